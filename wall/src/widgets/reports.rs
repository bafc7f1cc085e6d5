//! Reports: how each reporting regime's latest due report stands — the period whose deadline
//! has passed (or the one a presenter chose), how many units have reported it, and whether it
//! is complete or late and by how many days, with the late provinces named. Leaders read who has not reported without asking.
//! A regime is read from its first indicator's national total and its coverage. On a live wall
//! a column says how far each report is approved up the hierarchy ("20/34 tỉnh"), as the server
//! pushes it ([`approved`]), or as a snapshot file kept it (`dieuhanh-wall snapshot` saves it);
//! a preview from a file without it (the demo data shipped now) has no such column.

use dieuhanh_protocol::live::{ReportKey, ReportStanding, ReportState};
use dieuhanh_protocol::number::format_vi;
use dieuhanh_protocol::period::{CivilDate, Period};

use super::{Ctx, current_period, panel_frame, panel_title, table, vietnam_time};
use crate::catalogue::{Level, Regime};
use crate::draw::{Color, DisplayList, TextStyle, theme};
use crate::layout::{Panel, TextSize};
use crate::render::text::{TextShaper, Weight};

/// Late units named on a row before the rest are counted.
const NAMED: usize = 2;

/// Where one regime's due report stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    /// The latest period whose deadline has passed (or the presenter's).
    pub period: Period,
    /// "33/34 tỉnh", "Đã gửi", "Chưa có báo cáo".
    pub count: String,
    /// "Đủ", "Quá hạn 20 ngày · thiếu Thái Nguyên", "Hạn gửi 10/12/2026".
    pub status: String,
    pub complete: bool,
    /// Incomplete past its deadline.
    pub late: bool,
}

/// Today in Vietnam.
fn today(now_ms: i64) -> CivilDate {
    let ((year, month, day), ..) = vietnam_time(now_ms);
    CivilDate {
        year,
        month: month as u8,
        day: day as u8,
    }
}

/// The latest period of `r` whose report was due before `today`, and its deadline.
pub fn due(r: &Regime, now_ms: i64) -> (Period, CivilDate) {
    let today = today(now_ms);
    let mut p = current_period(r.frequency, now_ms);
    loop {
        let deadline = p.end_date().add_days(i32::from(r.deadline_days));
        if today > deadline {
            return (p, deadline);
        }
        p = p.previous();
    }
}

/// The level of a unit, read from its official code.
fn level_of(unit: &str) -> Level {
    match unit.len() {
        _ if unit.eq_ignore_ascii_case("VN") => Level::Nation,
        2 => Level::Province,
        3 => Level::District,
        _ => Level::Commune,
    }
}

/// Whether `unit` has a report of its own, or a total of reports, in regime `r`: a province has
/// none in a ministry's national regime.
pub fn concerns(r: &Regime, unit: &str) -> bool {
    level_of(unit) <= r.level
}

/// The period of `r` a panel shows, and its deadline: the period of the regime's kind that a
/// presenter's period stands for ("Tháng 9/2026" on a quarterly regime: "Quý III/2026"), else
/// the latest whose deadline has passed.
pub fn shown(r: &Regime, chosen: Option<Period>, now_ms: i64) -> (Period, CivilDate) {
    match chosen {
        Some(c) => {
            let p = super::stood_for(current_period(r.frequency, now_ms), c);
            (p, p.end_date().add_days(i32::from(r.deadline_days)))
        }
        None => due(r, now_ms),
    }
}

/// How `r`'s report stands for `unit` in the wall's data — the one due, or the presenter's
/// period's: the unit's own (a unit of the regime's level), or the units under it.
pub fn standing(ctx: &Ctx<'_>, r: &Regime, unit: &str) -> Standing {
    let (period, deadline) = shown(r, ctx.room.period, ctx.now_ms);
    let late_days = deadline.days_until(today(ctx.now_ms));
    let code = r.indicators.first().map_or("", String::as_str);
    let cell = ctx.data.get(code, unit, period);
    let noun = super::bars::level_vi(r.level.as_str());
    // A presenter's period may not be due yet: its deadline, not a lateness.
    let late = if late_days > 0 {
        format!("Quá hạn {late_days} ngày")
    } else {
        format!("Hạn gửi {deadline}")
    };
    if level_of(unit) >= r.level {
        return match cell {
            Some(_) => Standing {
                period,
                count: "Đã gửi".into(),
                status: "Đủ".into(),
                complete: true,
                late: false,
            },
            None => Standing {
                period,
                count: "Chưa gửi".into(),
                status: late,
                complete: false,
                late: late_days > 0,
            },
        };
    }
    // A regime of provinces: the provinces holding a value of it, the late ones named. Its
    // indicators may have national figures of their own, so the nation's total cannot tell.
    let provinces = if r.level == Level::Province && level_of(unit) == Level::Nation {
        ctx.data.children("VN", "province")
    } else {
        Vec::new()
    };
    let missing: Vec<&str> = provinces
        .iter()
        .filter(|u| ctx.data.get(code, &u.code, period).is_none())
        .map(|u| u.name.as_str())
        .collect();
    let (got, expected) = if provinces.is_empty() {
        // Communes: the total counts them.
        match cell.and_then(|c| c.coverage) {
            Some([got, expected]) => (got, expected),
            None => (0, ctx.data.children(unit, r.level.as_str()).len() as u32),
        }
    } else {
        let n = provinces.len() as u32;
        (n - missing.len() as u32, n)
    };
    let count = if expected > 0 {
        format!(
            "{}/{} {noun}",
            format_vi(f64::from(got), 0),
            format_vi(f64::from(expected), 0)
        )
    } else if cell.is_some() {
        "Đã gửi".into()
    } else {
        "Chưa có báo cáo".into()
    };
    let complete = if expected > 0 {
        got >= expected
    } else {
        cell.is_some()
    };
    let status = if complete {
        "Đủ".into()
    } else if missing.is_empty() {
        late
    } else {
        let mut named = missing
            .iter()
            .take(NAMED)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        if missing.len() > NAMED {
            named.push_str(&format!(" và {} {noun} khác", missing.len() - NAMED));
        }
        format!("{late} · thiếu {named}")
    };
    Standing {
        period,
        count,
        status,
        complete,
        late: !complete && late_days > 0,
    }
}

/// "20/34 tỉnh": `n` of `of` units of `level` below a report.
pub fn count(n: u32, of: u32, level: Option<&str>) -> String {
    format!(
        "{}/{} {}",
        format_vi(f64::from(n), 0),
        format_vi(f64::from(of), 0),
        super::bars::level_vi(level.unwrap_or(""))
    )
}

/// How far a report is approved, for its column: the units below approved as their reports
/// stand ("20/34 tỉnh"), or, for a report of the regime's own level, its state ("Chờ duyệt").
/// Green once every unit it counts is approved, as the figure reads.
pub fn approved(s: &ReportStanding) -> (String, Color) {
    if s.below > 0 {
        let colour = if s.below_approved >= s.below {
            theme::GOOD
        } else if s.below_approved == 0 {
            theme::MUTED
        } else {
            theme::TEXT
        };
        return (
            count(s.below_approved, s.below, s.below_level.as_deref()),
            colour,
        );
    }
    match s.state {
        ReportState::Approved => ("Đã duyệt".into(), theme::GOOD),
        ReportState::AwaitingApproval => ("Chờ duyệt".into(), theme::TEXT),
        ReportState::ChangedSinceApproval => ("Cần duyệt lại".into(), theme::STALE),
        ReportState::NotReported => ("Chưa báo cáo".into(), theme::MUTED),
    }
}

/// A regime's name without the "Báo cáo" every name starts with (the column says it):
/// "Thống kê hộ tịch".
pub fn short_name(name: &str) -> String {
    let rest = name.strip_prefix("Báo cáo ").unwrap_or(name);
    let mut chars = rest.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => name.to_owned(),
    }
}

pub fn draw(ctx: &Ctx<'_>, panel: &Panel, shaper: &mut TextShaper, list: &mut DisplayList) {
    let inner = panel_frame(panel, list);
    let head = ctx.text_px(TextSize::Medium).min(inner.h * 0.08);
    let unit = ctx.unit_of(panel);
    let title = panel
        .title
        .clone()
        .unwrap_or_else(|| "Tình hình thực hiện chế độ báo cáo".to_owned());
    // A presenter's focus on a province: its own reports and its communes'.
    let title = if level_of(unit) == Level::Nation {
        title
    } else {
        format!("{title} · {}", ctx.data.unit_name(unit))
    };
    let style = TextStyle::new(head, Weight::SemiBold, theme::TEXT);
    let t = panel_title(ctx, panel, shaper, list, &title, inner, style);
    let top = t.y + t.h + head * 0.3;
    // A presenter's ministry: its regimes only.
    let shown: Vec<&Regime> = panel
        .regimes
        .iter()
        .filter(|r| ctx.room.agency.as_ref().is_none_or(|a| r.agency == *a))
        .filter(|r| concerns(r, unit))
        .collect();
    if shown.is_empty() {
        list.text(
            shaper,
            "Bộ, ngành này không có chế độ báo cáo trên bảng",
            inner.x,
            top,
            TextStyle::new(head, Weight::Regular, theme::MUTED),
            Some(inner.w),
        );
        return;
    }
    let mut header: Vec<String> = ["Chế độ báo cáo", "Kỳ", "Đã báo cáo", "Tình trạng"]
        .map(String::from)
        .to_vec();
    let standings: Vec<Standing> = shown.iter().map(|r| standing(ctx, r, unit)).collect();
    let approvals: Vec<Option<&ReportStanding>> = shown
        .iter()
        .zip(&standings)
        .map(|(r, s)| {
            ctx.data.reports.get(&ReportKey {
                regime: r.code.clone(),
                period: s.period,
                unit: unit.to_owned(),
            })
        })
        .collect();
    // Only a server knows the approvals: a preview from a file without them keeps the columns
    // it can fill.
    let with_approvals = approvals.iter().any(Option::is_some);
    if with_approvals {
        header.push("Đã duyệt".into());
    }
    let rows: Vec<table::Row> = shown
        .iter()
        .zip(standings)
        .zip(&approvals)
        .map(|((r, s), a)| {
            let colour: Color = if s.complete {
                theme::GOOD
            } else if s.late {
                theme::BAD
            } else {
                theme::MUTED
            };
            let mut cells = vec![
                (s.period.label_vi(), theme::MUTED),
                (s.count, theme::TEXT),
                (s.status, colour),
            ];
            if with_approvals {
                cells.push(a.map_or(("—".into(), theme::MUTED), approved));
            }
            (short_name(&r.name), cells)
        })
        .collect();
    table::rows_at(
        shaper,
        list,
        inner,
        top,
        ctx.text_px(panel.text),
        &header,
        &rows,
        true,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use dieuhanh_protocol::period::Frequency;

    fn regime(frequency: Frequency, deadline_days: u16) -> Regime {
        Regime {
            code: "BC-X".into(),
            name: "Báo cáo tình hình kinh tế - xã hội tháng của tỉnh".into(),
            agency: "BTC".into(),
            level: Level::Province,
            frequency,
            deadline_days,
            indicators: vec!["NS01".into()],
        }
    }

    /// Milliseconds at noon, Vietnam time, of a day.
    fn noon(year: i32, month: u8, day: u8) -> i64 {
        let d = CivilDate { year, month, day };
        (CivilDate {
            year: 1970,
            month: 1,
            day: 1,
        }
        .days_until(d)
            * 86_400
            + 5 * 3600)
            * 1000
    }

    #[test]
    fn the_due_report_is_the_latest_whose_deadline_has_passed() {
        let month = regime(Frequency::Month, 10);
        let p = |s: &str| Period::parse(s).unwrap();
        // October is due on 10 November: on the 30th it is late, on the 5th September is due.
        assert_eq!(due(&month, noon(2026, 11, 30)).0, p("2026-10"));
        assert_eq!(due(&month, noon(2026, 11, 10)).0, p("2026-09"));
        assert_eq!(due(&month, noon(2026, 11, 11)).0, p("2026-10"));
        let year = regime(Frequency::Year, 90);
        assert_eq!(due(&year, noon(2026, 3, 31)).0, p("2024"));
        assert_eq!(due(&year, noon(2026, 4, 1)).0, p("2025"));
    }

    #[test]
    fn a_regimes_name_loses_its_common_first_words() {
        assert_eq!(short_name("Báo cáo thống kê hộ tịch"), "Thống kê hộ tịch");
        assert_eq!(short_name("Niên giám"), "Niên giám");
    }
}
