//! Recognising the columns of a table people upload (CSV or Excel): which column holds the
//! unit, the period, the indicator and the value ("long" tables), or which columns are
//! indicators named by code or Vietnamese name ("wide" tables, one row per unit and period).

use crate::catalogue::Catalogue;
use crate::text::fold_key;

use super::report::{ErrorCode, RowError};

/// What one column holds.
#[derive(Debug, Clone, PartialEq)]
pub enum Role {
    /// Official code (or name) of the reporting unit.
    Unit,
    /// A unit's name beside a code column: informative only.
    UnitName,
    Period,
    Indicator,
    Value,
    /// Optional disaggregation (phân tổ), e.g. "nữ".
    Disagg,
    /// A column of values of this indicator (wide tables).
    IndicatorValues(String),
    /// Row numbers, notes, units of measure: not data.
    Ignored,
}

/// The shape of an uploaded table.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub roles: Vec<Role>,
    pub headers: Vec<String>,
}

impl Layout {
    pub fn position(&self, role: &Role) -> Option<usize> {
        self.roles.iter().position(|r| r == role)
    }

    /// Long tables name the indicator in a column; wide tables name it in the header.
    pub fn is_long(&self) -> bool {
        self.position(&Role::Indicator).is_some()
    }

    /// (column index, indicator code) of each indicator column of a wide table.
    pub fn indicator_columns(&self) -> Vec<(usize, String)> {
        self.roles
            .iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                Role::IndicatorValues(code) => Some((i, code.clone())),
                _ => None,
            })
            .collect()
    }
}

const UNIT: &[&str] = &[
    "mã đơn vị",
    "ma don vi",
    "ma_don_vi",
    "mã đvhc",
    "mã địa phương",
    "mã tỉnh",
    "mã xã",
    "unit",
    "unit_code",
    "unit code",
    "đơn vị",
    "đơn vị báo cáo",
    "địa phương",
    "tỉnh, thành phố",
    "tỉnh/thành phố",
    "xã, phường",
    "xã/phường",
];
const UNIT_NAME: &[&str] = &[
    "tên đơn vị",
    "tên địa phương",
    "tên tỉnh",
    "tên xã",
    "unit_name",
];
const PERIOD: &[&str] = &[
    "kỳ",
    "kỳ báo cáo",
    "ky",
    "ky_bao_cao",
    "period",
    "thời gian",
    "thời kỳ",
    "ngày báo cáo",
];
const INDICATOR: &[&str] = &[
    "chỉ tiêu",
    "mã chỉ tiêu",
    "tên chỉ tiêu",
    "chi_tieu",
    "ma_chi_tieu",
    "indicator",
    "indicator_code",
];
const VALUE: &[&str] = &[
    "giá trị",
    "gia_tri",
    "số liệu",
    "value",
    "thực hiện",
    "số thực hiện",
];
const DISAGG: &[&str] = &["phân tổ", "phan_to", "disagg", "breakdown"];
const IGNORED: &[&str] = &[
    "stt",
    "tt",
    "số tt",
    "ghi chú",
    "ghi_chu",
    "note",
    "notes",
    "đơn vị tính",
    "đvt",
    "unit_of_measure",
    "nguồn",
    "source",
];

/// Classifies headers. A header that is neither a known column nor an indicator is an error
/// naming the column, unless it is blank (trailing empty columns from Excel).
pub fn detect(headers: &[String], cat: &Catalogue) -> Result<Layout, Vec<RowError>> {
    let mut roles = Vec::with_capacity(headers.len());
    let mut errors = Vec::new();
    for (i, h) in headers.iter().enumerate() {
        let key = fold_key(h);
        let role = if key.is_empty() {
            Role::Ignored
        } else if UNIT.contains(&key.as_str()) {
            Role::Unit
        } else if UNIT_NAME.contains(&key.as_str()) {
            Role::UnitName
        } else if PERIOD.contains(&key.as_str()) {
            Role::Period
        } else if INDICATOR.contains(&key.as_str()) {
            Role::Indicator
        } else if VALUE.contains(&key.as_str()) {
            Role::Value
        } else if DISAGG.contains(&key.as_str()) {
            Role::Disagg
        } else if IGNORED.contains(&key.as_str()) {
            Role::Ignored
        } else if let Some(ind) = cat.resolve_indicator(&strip_unit_suffix(h)) {
            Role::IndicatorValues(ind.code.clone())
        } else {
            errors.push(RowError::header(
                i,
                h,
                ErrorCode::UnknownColumn,
                format!("column {h:?} is not a known column nor an indicator code or name"),
                suggest_indicator(cat, h),
            ));
            Role::Ignored
        };
        roles.push(role);
    }
    // A name column is only informative when a code column exists; alone, it is the unit.
    if !roles.contains(&Role::Unit)
        && let Some(p) = roles.iter().position(|r| *r == Role::UnitName)
    {
        roles[p] = Role::Unit;
    }
    let layout = Layout {
        roles,
        headers: headers.to_vec(),
    };
    let count = |r: &Role| layout.roles.iter().filter(|x| *x == r).count();
    for (role, what) in [
        (Role::Unit, "unit"),
        (Role::Period, "period"),
        (Role::Indicator, "indicator"),
        (Role::Value, "value"),
    ] {
        if count(&role) > 1 {
            errors.push(RowError::file(
                ErrorCode::MissingColumn,
                format!("the table has more than one {what} column"),
                "keep one column per role and rename or delete the others".into(),
            ));
        }
    }
    if count(&Role::Unit) == 0 {
        errors.push(RowError::file(
            ErrorCode::MissingColumn,
            "no unit column: the table must say which administrative unit each row is for".into(),
            "add a column \"Mã đơn vị\" with official codes (e.g. 79, 26734) or names".into(),
        ));
    }
    let long = layout.is_long();
    let wide_cols = layout.indicator_columns().len();
    if long && layout.position(&Role::Value).is_none() {
        errors.push(RowError::file(
            ErrorCode::MissingColumn,
            "the table has an indicator column but no value column".into(),
            "add a column \"Giá trị\"".into(),
        ));
    }
    if long && wide_cols > 0 {
        errors.push(RowError::file(
            ErrorCode::MissingColumn,
            "the table mixes an indicator column with indicator-named columns".into(),
            "use either one row per value (Chỉ tiêu, Giá trị) or one column per indicator".into(),
        ));
    }
    if !long && wide_cols == 0 && errors.is_empty() {
        errors.push(RowError::file(
            ErrorCode::MissingColumn,
            "no indicator found: neither a \"Chỉ tiêu\" column nor columns named by indicator"
                .into(),
            "name value columns by indicator code (e.g. VM02) or Vietnamese name".into(),
        ));
    }
    if errors.is_empty() {
        Ok(layout)
    } else {
        Err(errors)
    }
}

/// "Kim ngạch xuất khẩu (triệu USD)" → "Kim ngạch xuất khẩu": people add units to headers.
fn strip_unit_suffix(header: &str) -> String {
    match header.rfind('(') {
        Some(p) if header.trim_end().ends_with(')') && p > 0 => header[..p].trim().to_owned(),
        _ => header.trim().to_owned(),
    }
}

/// Hint for an unknown indicator text: a close match without diacritics, else where to look.
pub fn suggest_indicator(cat: &Catalogue, text: &str) -> String {
    let loose = crate::text::fold_diacritics(&strip_unit_suffix(text));
    if let Some(ind) = cat.indicators.iter().find(|i| {
        crate::text::fold_diacritics(&i.name_vi) == loose
            || crate::text::fold_diacritics(&i.code) == loose
    }) {
        return format!(
            "did you mean {} \"{}\"? Write names with full Vietnamese diacritics",
            ind.code, ind.name_vi
        );
    }
    "use an indicator code from GET /api/indicators (e.g. VM02) or its exact Vietnamese name".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat() -> Catalogue {
        Catalogue::load(&crate::assets_dir().join("catalogue/catalogue.toml")).unwrap()
    }

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn long_table_with_vietnamese_headers_is_recognised() {
        let l = detect(
            &h(&[
                "STT",
                "Mã đơn vị",
                "Tên đơn vị",
                "Kỳ",
                "Chỉ tiêu",
                "Giá trị",
            ]),
            &cat(),
        )
        .unwrap();
        assert!(l.is_long());
        assert_eq!(l.position(&Role::Unit), Some(1));
        assert_eq!(l.roles[2], Role::UnitName);
    }

    #[test]
    fn wide_table_columns_resolve_by_code_and_name_with_unit_suffix() {
        let l = detect(
            &h(&[
                "Tỉnh/thành phố",
                "Kỳ báo cáo",
                "VM02",
                "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng (tỷ đồng)",
            ]),
            &cat(),
        )
        .unwrap();
        assert!(!l.is_long());
        assert_eq!(
            l.indicator_columns(),
            vec![(2, "VM02".to_string()), (3, "TT05".to_string())]
        );
    }

    #[test]
    fn unknown_header_is_reported_with_its_column_and_a_suggestion() {
        let errs = detect(
            &h(&["Mã đơn vị", "Kỳ", "Kim ngach xuat khau hang hoa"]),
            &cat(),
        )
        .unwrap_err();
        assert_eq!(errs[0].code, ErrorCode::UnknownColumn);
        assert_eq!(errs[0].column.as_deref(), Some("C"));
        assert!(errs[0].hint.contains("VM02"), "{}", errs[0].hint);
    }
}
