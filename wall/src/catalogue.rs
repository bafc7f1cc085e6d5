//! What a layout may name: the indicators and agencies of `assets/catalogue/catalogue.toml` and
//! the administrative units of `assets/admin/*.csv` (the 2025 two-level structure and the 2024
//! three-level one), reduced to the fields the wall needs to validate a layout and label figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dieuhanh_protocol::period::Frequency;
use serde::Deserialize;

/// Why the catalogue or the unit lists could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// A file could not be read.
    #[error("cannot read {path}: {error}. Check DIEUHANH_ASSETS points at the assets folder.")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// `catalogue.toml` does not have the expected shape.
    #[error("{path} is not a valid catalogue: {message}")]
    Parse { path: PathBuf, message: String },
    /// The provinces' map is missing or damaged.
    #[error(transparent)]
    Map(#[from] crate::map::MapError),
    /// A line of a unit CSV lacks a column.
    #[error("{path}:{line}: {message}")]
    Csv {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// The assets folder: `DIEUHANH_ASSETS` if set, else the repository's `assets/`.
pub fn assets_dir() -> PathBuf {
    dieuhanh_protocol::paths::checkout_dir("DIEUHANH_ASSETS", "../assets")
}

/// What a target is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Year-to-date total against the annual plan ("đạt x% kế hoạch năm").
    AnnualTotal,
    /// % change vs the same period last year against a planned growth rate.
    Growth,
    /// The value itself against a planned level.
    Level,
}

/// A planned value per year.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Target {
    pub kind: TargetKind,
    /// Planned value by year.
    pub values: BTreeMap<i32, f64>,
}

/// One indicator, as the wall shows it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct IndicatorDef {
    /// Code, e.g. `VM01`.
    pub code: String,
    /// Vietnamese name, shown as the panel title by default.
    pub name_vi: String,
    /// Unit of measure, e.g. `tỷ đồng`, `%`.
    pub unit: String,
    /// How often it is reported.
    pub frequency: Frequency,
    /// Code of the owning agency (ministry), e.g. `BTC`.
    pub agency: String,
    /// Decimals shown.
    #[serde(default)]
    pub decimals: u32,
    /// Whether a rise is good news; `None` when neither (prices, exchange rate).
    #[serde(default)]
    pub higher_is_better: Option<bool>,
    /// The plan it is measured against, if any.
    #[serde(default)]
    pub target: Option<Target>,
    /// How values combine up the hierarchy: `sum`, `weighted_mean`, `ratio` or `none`.
    #[serde(default)]
    pub aggregation: String,
    /// The finest level any reporting regime collects it at (`None`: no regime names it).
    #[serde(skip)]
    pub reported_at: Option<Level>,
}

/// A reporting regime as the catalogue writes it.
#[derive(Debug, Clone, Deserialize)]
struct RegimeDef {
    code: String,
    name: String,
    agency: String,
    level: String,
    frequency: Frequency,
    deadline_days: u16,
    #[serde(default)]
    indicators: Vec<String>,
}

/// A reporting regime: who reports which indicators, how often, and by when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regime {
    /// Code, e.g. `BC-HT`.
    pub code: String,
    /// Vietnamese name, e.g. "Báo cáo thống kê hộ tịch".
    pub name: String,
    /// The ministry that owns it.
    pub agency: String,
    /// The level of the units that report.
    pub level: Level,
    pub frequency: Frequency,
    /// Days after the end of a period by which its report is due.
    pub deadline_days: u16,
    /// Its indicators; the first stands for the whole report on the wall.
    pub indicators: Vec<String>,
}

/// One agency (ministry or ministry-level body).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AgencyDef {
    /// Code, e.g. `BTC`.
    pub code: String,
    /// Vietnamese name, e.g. "Bộ Tài chính".
    pub name: String,
}

/// Administrative level of a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// The whole country, code `VN`.
    Nation,
    /// Province or centrally governed city (2-digit code).
    Province,
    /// District (3-digit code; the 2024 structure only).
    District,
    /// Commune, ward or special zone (5-digit code).
    Commune,
}

impl Level {
    /// Every level, top first.
    pub const ALL: [Level; 4] = [
        Level::Nation,
        Level::Province,
        Level::District,
        Level::Commune,
    ];

    /// The name used in layout files: `nation`, `province`, `district`, `commune`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Nation => "nation",
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }

    /// Reads a name written by [`Level::as_str`].
    pub fn parse(s: &str) -> Option<Level> {
        Level::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// One administrative unit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitDef {
    /// Official code: `VN`, `79`, `26734`.
    pub code: String,
    /// Short name, e.g. "Hồ Chí Minh"; "Cả nước" for the nation.
    pub name: String,
    /// Its level.
    pub level: Level,
    /// The year of the structure the code comes from: 2025 (after the July 2025 reform) or 2024.
    /// A code in both is kept with its 2025 meaning.
    pub structure: u16,
}

/// Indicators, agencies and units, by code.
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub indicators: BTreeMap<String, IndicatorDef>,
    pub agencies: BTreeMap<String, AgencyDef>,
    pub units: BTreeMap<String, UnitDef>,
    /// Reporting regimes, in the catalogue's order.
    pub regimes: Vec<Regime>,
    /// The 2025 provinces' shapes, for map panels.
    pub map: Option<std::sync::Arc<crate::map::ProvinceMap>>,
}

#[derive(Deserialize)]
struct CatalogueFile {
    #[serde(default)]
    agency: Vec<AgencyDef>,
    #[serde(default)]
    indicator: Vec<IndicatorDef>,
    #[serde(default)]
    regime: Vec<RegimeDef>,
}

impl Catalogue {
    /// Reads `catalogue/catalogue.toml` and the unit CSVs under `admin/` of `assets`.
    pub fn load(assets: &Path) -> Result<Catalogue, CatalogueError> {
        let path = assets.join("catalogue/catalogue.toml");
        let text = read(&path)?;
        let file: CatalogueFile = toml::from_str(&text).map_err(|e| CatalogueError::Parse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut cat = Catalogue {
            indicators: file
                .indicator
                .into_iter()
                .map(|i| (i.code.clone(), i))
                .collect(),
            agencies: file
                .agency
                .into_iter()
                .map(|a| (a.code.clone(), a))
                .collect(),
            units: BTreeMap::new(),
            regimes: Vec::new(),
            map: None,
        };
        for r in &file.regime {
            let Some(level) = Level::parse(&r.level) else {
                continue;
            };
            if !r.indicators.is_empty() {
                cat.regimes.push(Regime {
                    code: r.code.clone(),
                    name: r.name.clone(),
                    agency: r.agency.clone(),
                    level,
                    frequency: r.frequency,
                    deadline_days: r.deadline_days,
                    indicators: r.indicators.clone(),
                });
            }
            for code in &r.indicators {
                if let Some(ind) = cat.indicators.get_mut(code) {
                    // Finer levels sort higher (nation < province < district < commune).
                    ind.reported_at = Some(ind.reported_at.map_or(level, |l| l.max(level)));
                }
            }
        }
        cat.add_unit("VN", "Cả nước", Level::Nation, 2025);
        let admin = assets.join("admin");
        // 2025 first, so a code in both structures keeps its 2025 meaning.
        let lists = [
            ("provinces_2025.csv", Level::Province, 2025),
            ("communes_2025.csv", Level::Commune, 2025),
            ("provinces_2024.csv", Level::Province, 2024),
            ("districts_2024.csv", Level::District, 2024),
            ("communes_2024.csv", Level::Commune, 2024),
        ];
        for (name, level, structure) in lists {
            let path = admin.join(name);
            let text = read(&path)?;
            for (code, unit_name) in read_units(&path, &text)? {
                cat.add_unit(&code, &unit_name, level, structure);
            }
        }
        cat.map = Some(std::sync::Arc::new(crate::map::ProvinceMap::load(assets)?));
        Ok(cat)
    }

    fn add_unit(&mut self, code: &str, name: &str, level: Level, structure: u16) {
        self.units
            .entry(code.to_owned())
            .or_insert_with(|| UnitDef {
                code: code.to_owned(),
                name: name.to_owned(),
                level,
                structure,
            });
    }

    /// The indicator with this code.
    pub fn indicator(&self, code: &str) -> Option<&IndicatorDef> {
        self.indicators.get(code)
    }

    /// The agency with this code.
    pub fn agency(&self, code: &str) -> Option<&AgencyDef> {
        self.agencies.get(code)
    }

    /// The unit with this code.
    pub fn unit(&self, code: &str) -> Option<&UnitDef> {
        self.units.get(code)
    }

    /// The indicator code closest to `code` (for "did you mean ..."), if one is close enough.
    pub fn suggest(&self, code: &str) -> Option<&str> {
        closest(code, self.indicators.keys().map(String::as_str))
    }

    /// The agency code closest to `code`, if one is close enough.
    pub fn suggest_agency(&self, code: &str) -> Option<&str> {
        closest(code, self.agencies.keys().map(String::as_str))
    }

    /// A unit whose short or full name is `name` (ignoring case), for people who write
    /// "Hà Nội" where a code is wanted. 2025 units first.
    pub fn unit_named(&self, name: &str) -> Option<&UnitDef> {
        let want = name.trim().to_lowercase();
        let mut found: Vec<&UnitDef> = self
            .units
            .values()
            .filter(|u| u.name.to_lowercase() == want)
            .collect();
        found.sort_by_key(|u| (std::cmp::Reverse(u.structure), u.level));
        found.first().copied()
    }
}

fn read(path: &Path) -> Result<String, CatalogueError> {
    std::fs::read_to_string(path).map_err(|error| CatalogueError::Read {
        path: path.to_owned(),
        error,
    })
}

/// `(code, name)` of each row of an admin CSV (plain comma-separated, no quoting, a header row
/// naming the `code` and `name` columns).
fn read_units(path: &Path, text: &str) -> Result<Vec<(String, String)>, CatalogueError> {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let column = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| CatalogueError::Csv {
                path: path.to_owned(),
                line: 1,
                message: format!("the header has no `{name}` column"),
            })
    };
    let (code_at, name_at) = (column("code")?, column("name")?);
    let mut units = Vec::new();
    for (i, line) in lines.enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').collect();
        match (fields.get(code_at), fields.get(name_at)) {
            (Some(code), Some(name)) if !code.trim().is_empty() => {
                units.push((code.trim().to_owned(), name.trim().to_owned()));
            }
            _ => {
                return Err(CatalogueError::Csv {
                    path: path.to_owned(),
                    line: i + 2,
                    message: "a row lacks its code or name".to_owned(),
                });
            }
        }
    }
    Ok(units)
}

/// The candidate closest to `word` by edit distance (ignoring case), if close enough to be a
/// likely typo: at most 1 edit for words of up to 4 characters, 2 up to 8, 3 beyond; a candidate
/// that starts with `word` (or vice versa) also counts when nothing is closer.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let word_l = word.to_lowercase();
    let n = word_l.chars().count();
    let limit = match n {
        0..=4 => 1,
        5..=8 => 2,
        _ => 3,
    };
    let mut best: Option<(usize, &'a str)> = None;
    let mut prefix: Option<&'a str> = None;
    for cand in candidates {
        let cand_l = cand.to_lowercase();
        let d = edit_distance(&word_l, &cand_l);
        if d <= limit && best.is_none_or(|(bd, _)| d < bd) {
            best = Some((d, cand));
        }
        if prefix.is_none()
            && n >= 2
            && (cand_l.starts_with(&word_l) || word_l.starts_with(&cand_l))
        {
            prefix = Some(cand);
        }
    }
    best.map(|(_, c)| c).or(prefix)
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_loads_indicators_agencies_and_units_of_both_structures() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        assert_eq!(cat.indicators.len(), 60);
        let gdp = cat.indicator("TT02").unwrap();
        assert_eq!(gdp.frequency, Frequency::Quarter);
        assert_eq!(gdp.agency, "BTC");
        assert_eq!(gdp.target.as_ref().unwrap().values[&2025], 8.0);
        assert_eq!(cat.agency("BTC").unwrap().name, "Bộ Tài chính");
        assert_eq!(cat.unit("VN").unwrap().level, Level::Nation);
        assert_eq!(cat.unit("79").unwrap().name, "Hồ Chí Minh");
        assert_eq!(cat.unit("02").unwrap().structure, 2024);
        assert_eq!(cat.unit("001").unwrap().level, Level::District);
        assert_eq!(cat.unit("00004").unwrap().structure, 2025);
    }

    #[test]
    fn suggest_finds_typos_and_case_slips() {
        let cat = Catalogue::load(&assets_dir()).unwrap();
        assert_eq!(cat.suggest("TT5"), Some("TT05"));
        assert_eq!(cat.suggest("vm01"), Some("VM01"));
        assert_eq!(cat.suggest("ZZZZZZ"), None);
        assert_eq!(closest("colums", ["rows", "columns"]), Some("columns"));
        assert_eq!(cat.unit_named("hà nội").unwrap().code, "01");
    }
}
