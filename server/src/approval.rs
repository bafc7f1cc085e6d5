//! Approval of reports up the hierarchy. A regime's report of a period, for one unit, is that
//! unit's own values (at the regime's level) or the totals of the units under it (above). The
//! person responsible for the unit reviews it, approves and sends it up: nobody re-totals by
//! hand. An approval records the data version of the report's newest value; a later correction
//! leaves the approval in the history but the report reads "changed since approval" until it is
//! approved again. Approvals never gate the values: the walls show live figures with their
//! coverage, and the approval state beside them ([`Reports::standing`], pushed by
//! `live::reports`).

use std::collections::HashMap;

use duckdb::{Connection, params};
use serde::{Deserialize, Serialize};

use dieuhanh_protocol::live::{Approved, ReportKey, ReportStanding};
use dieuhanh_protocol::period::Period;

use crate::catalogue::{Catalogue, Regime};
use crate::hierarchy::{Era, Hierarchy, Level, Unit};
use crate::ingest::Scope;
use crate::query::{PeriodRef, UnitRef, find_unit};
use crate::store::facts::period_no;
use crate::store::{DbContext, StoreError};

/// Where a report stands: the wire's own type, so walls read what the API says.
pub use dieuhanh_protocol::live::ReportState;

/// One approval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Approval {
    pub id: i64,
    pub regime: String,
    pub unit: UnitRef,
    pub period: PeriodRef,
    /// Data version of the report's newest value when it was approved.
    pub version: i64,
    /// UTC, ISO 8601.
    pub approved_at: String,
    /// The approver's token name (and the name they gave).
    pub approver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An approval as stored, before it is named by its regime, unit and period.
struct Recorded {
    id: i64,
    version: i64,
    approved_at: String,
    approver: String,
    note: Option<String>,
}

impl Approval {
    fn of(regime: &Regime, unit: &Unit, period: &Period, r: Recorded) -> Approval {
        Approval {
            id: r.id,
            regime: regime.code.clone(),
            unit: UnitRef::of(unit),
            period: PeriodRef::of(period),
            version: r.version,
            approved_at: r.approved_at,
            approver: r.approver,
            note: r.note,
        }
    }
}

/// What `POST /api/approvals` asks.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct ApproveRequest {
    /// Regime code, e.g. "BC-HT".
    pub regime: String,
    /// Unit code in the structure of the period (79, 26734, VN).
    pub unit: String,
    /// Period of the regime's frequency: "2026-10" or "Tháng 10/2026".
    pub period: String,
    /// Who approves, recorded beside the token's name.
    #[serde(default)]
    pub approver: Option<String>,
    /// A remark sent up with the report.
    #[serde(default)]
    pub note: Option<String>,
}

/// A unit below the approved one whose own report is not approved as it stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BelowState {
    pub unit: UnitRef,
    pub state: ReportState,
}

/// The answer to an approval.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApprovalOutcome {
    pub approval: Approval,
    /// False when the report was already approved as it stands (nothing recorded again).
    pub recorded: bool,
    /// The units one level down (toward the regime's level) that the report adds up.
    pub below_expected: usize,
    /// Those of them not approved as they stand: sent up anyway, and said here (first 200).
    pub below_not_approved: Vec<BelowState>,
    pub below_not_approved_total: usize,
    /// What happened, in Vietnamese.
    pub message_vi: String,
}

/// Why an approval was refused.
#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    /// Nothing of the report has come in.
    #[error("{0}")]
    NothingReported(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The reports of one regime and period, everywhere: the newest value's version of each unit
/// that reported, and each unit's latest approval.
pub struct Reports<'a> {
    h: &'a Hierarchy,
    regime: &'a Regime,
    era: Era,
    versions: HashMap<u32, i64>,
    approvals: HashMap<u32, Approval>,
    /// When each latest approval was made, ms since 1970.
    approved_ms: HashMap<u32, i64>,
}

impl<'a> Reports<'a> {
    pub fn load(
        conn: &Connection,
        h: &'a Hierarchy,
        regime: &'a Regime,
        period: Period,
    ) -> Result<Reports<'a>, StoreError> {
        let pid = period_no(&period);
        let codes = crate::store::sql_codes(&regime.indicators);
        let mut stmt = conn
            .prepare(&format!(
                "SELECT o.uid, max(s.version) FROM current_obs o
                 JOIN submissions s ON s.id = o.submission
                 WHERE o.ind IN (SELECT id FROM indicator_ids WHERE code IN ({codes}))
                   AND o.pid = ?
                 GROUP BY o.uid"
            ))
            .ctx("reading the reports' versions")?;
        let versions = stmt
            .query_map([pid], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, i64>(1)?)))
            .ctx("reading the reports' versions")?
            .collect::<Result<HashMap<_, _>, _>>()
            .ctx("reading the reports' versions")?;
        let mut stmt = conn
            .prepare(
                "SELECT id, uid, version, strftime(approved_at, '%Y-%m-%dT%H:%M:%SZ'), approver,
                        note, epoch_ms(approved_at)
                 FROM approvals WHERE regime = ? AND pid = ?
                 QUALIFY row_number() OVER (PARTITION BY uid ORDER BY id DESC) = 1",
            )
            .ctx("reading the approvals")?;
        let rows = stmt
            .query_map(params![regime.code, pid], |r| {
                Ok((
                    r.get::<_, u32>(1)?,
                    r.get::<_, i64>(6)?,
                    Recorded {
                        id: r.get(0)?,
                        version: r.get(2)?,
                        approved_at: r.get(3)?,
                        approver: r.get(4)?,
                        note: r.get(5)?,
                    },
                ))
            })
            .ctx("reading the approvals")?
            .collect::<Result<Vec<_>, _>>()
            .ctx("reading the approvals")?;
        let approved_ms = rows.iter().map(|&(uid, ms, _)| (uid, ms)).collect();
        let approvals = rows
            .into_iter()
            .filter_map(|(uid, _, r)| Some((uid, Approval::of(regime, h.unit(uid)?, &period, r))))
            .collect();
        Ok(Reports {
            h,
            regime,
            era: Era::of_period(&period),
            versions,
            approvals,
            approved_ms,
        })
    }

    /// The data version of the newest value of `uid`'s report: its own values and those of
    /// every unit under it down to the regime's level. `None` when nothing came in.
    pub fn version(&self, uid: u32) -> Option<i64> {
        let own = self.versions.get(&uid).copied();
        let Some(unit) = self.h.unit(uid) else {
            return own;
        };
        [Level::Province, Level::District, Level::Commune]
            .iter()
            .filter(|&&l| l > unit.level && l <= self.regime.level)
            .flat_map(|&l| self.h.descendants(uid, l, self.era))
            .filter_map(|u| self.versions.get(u).copied())
            .chain(own)
            .max()
    }

    /// The latest approval of `uid`'s report.
    pub fn approval(&self, uid: u32) -> Option<&Approval> {
        self.approvals.get(&uid)
    }

    pub fn state(&self, uid: u32) -> ReportState {
        match (self.version(uid), self.approval(uid)) {
            (None, _) => ReportState::NotReported,
            (Some(_), None) => ReportState::AwaitingApproval,
            (Some(v), Some(a)) if v <= a.version => ReportState::Approved,
            (Some(_), Some(_)) => ReportState::ChangedSinceApproval,
        }
    }

    /// How `unit`'s report stands, with the units below it, for a wall.
    pub fn standing(&self, key: ReportKey, unit: &Unit) -> ReportStanding {
        let below = self.below(unit);
        let mut reported = 0;
        let mut approved = Vec::new();
        for &u in below {
            match self.state(u) {
                ReportState::NotReported => {}
                ReportState::Approved => {
                    reported += 1;
                    if let Some(unit) = self.h.unit(u) {
                        approved.push(Approved {
                            unit: unit.code.clone(),
                            at_ms: self.approved_ms.get(&u).copied().unwrap_or(0),
                        });
                    }
                }
                _ => reported += 1,
            }
        }
        let state = self.state(unit.uid);
        ReportStanding {
            key,
            state,
            approved_at_ms: (state == ReportState::Approved)
                .then(|| self.approved_ms.get(&unit.uid).copied())
                .flatten(),
            below_level: below
                .first()
                .and_then(|&u| self.h.unit(u))
                .map(|u| u.level.as_str().to_owned()),
            below: below.len() as u32,
            below_reported: reported,
            below_approved: approved.len() as u32,
            approved,
        }
    }

    /// The units one level below `unit` whose reports its report adds up (none at the regime's
    /// own level).
    pub fn below(&self, unit: &Unit) -> &'a [u32] {
        let next = match unit.level {
            Level::Nation => Level::Province,
            Level::Province if self.era == Era::Since2025 => Level::Commune,
            Level::Province => Level::District,
            Level::District => Level::Commune,
            Level::Commune => return &[],
        };
        if unit.level >= self.regime.level {
            return &[];
        }
        // A regime reported by provinces has nothing between the nation and them.
        self.h
            .descendants(unit.uid, next.min(self.regime.level), self.era)
    }
}

/// The regime, period and unit an approval names, checked against each other and the approver
/// (a default `Scope`, without limits, to look at a report rather than approve it).
pub fn resolve<'c, 'h>(
    cat: &'c Catalogue,
    h: &'h Hierarchy,
    req: &ApproveRequest,
    by: &Scope,
) -> Result<(&'c Regime, Period, &'h Unit), ApprovalError> {
    let regime = cat.regime(&req.regime).ok_or_else(|| {
        ApprovalError::NotFound(format!(
            "no regime {:?}; GET /api/regimes lists them (e.g. BC-HT)",
            req.regime
        ))
    })?;
    let period = Period::parse(&req.period).map_err(|e| {
        ApprovalError::Invalid(format!(
            "period {:?}: {e}; write it as 2026-10 or \"Tháng 10/2026\"",
            req.period
        ))
    })?;
    regime
        .period_fits(&period)
        .map_err(ApprovalError::Invalid)?;
    let unit = find_unit(h, &req.unit, period.end_date())
        .map_err(|e| ApprovalError::NotFound(e.to_string()))?;
    if unit.level > regime.level {
        return Err(ApprovalError::Invalid(format!(
            "regime {} is reported by units of level {}; {} ({}) is below them and has no \
             report of its own in it: approve its {} unit's report",
            regime.code,
            regime.level.as_str(),
            unit.full_name,
            unit.code,
            regime.level.as_str()
        )));
    }
    if let Some(top) = by.unit
        && unit.uid != top
        && !h.closure(unit.uid).iter().any(|&(a, _)| a == top)
    {
        let top = h.unit(top).map_or_else(
            || top.to_string(),
            |u| format!("{} ({})", u.full_name, u.code),
        );
        return Err(ApprovalError::Forbidden(format!(
            "{} ({}) is outside what {} may approve: {top} and the units under it; the \
             report is approved with the token of that unit's approver",
            unit.full_name, unit.code, by.who
        )));
    }
    if !by.agencies.is_empty() && !by.agencies.contains(&regime.agency) {
        return Err(ApprovalError::Forbidden(format!(
            "regime {} belongs to {}; {} approves only for {}",
            regime.code,
            regime.agency,
            by.who,
            by.agencies.join(", ")
        )));
    }
    Ok((regime, period, unit))
}

/// Approves a report on the writer connection. Approving a report already approved as it
/// stands records nothing and answers the standing approval.
pub fn approve(
    conn: &mut Connection,
    cat: &Catalogue,
    h: &Hierarchy,
    req: &ApproveRequest,
    by: &Scope,
) -> Result<ApprovalOutcome, ApprovalError> {
    let (regime, period, unit) = resolve(cat, h, req, by)?;
    let tx = conn.transaction().ctx("starting an approval")?;
    let reports = Reports::load(&tx, h, regime, period)?;
    let Some(version) = reports.version(unit.uid) else {
        return Err(ApprovalError::NothingReported(format!(
            "nothing of {} {} has come in for {} ({}): there is nothing to approve; GET \
             /api/regimes/{}/status?period={} says who has reported",
            regime.code,
            period.label_vi(),
            unit.full_name,
            unit.code,
            regime.code,
            period.id()
        )));
    };
    let (approval, recorded) = match reports.approval(unit.uid) {
        Some(a) if a.version >= version => (a.clone(), false),
        _ => {
            let id: i64 = tx
                .query_row("SELECT coalesce(max(id), 0) + 1 FROM approvals", [], |r| {
                    r.get(0)
                })
                .ctx("numbering the approval")?;
            let approver = match &req.approver {
                Some(name) if !name.trim().is_empty() => format!("{} ({})", name.trim(), by.who),
                _ => by.who.clone(),
            };
            let note = req.note.as_ref().filter(|n| !n.trim().is_empty()).cloned();
            let at: String = tx
                .query_row(
                    "INSERT INTO approvals VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP, ?, ?)
                     RETURNING strftime(approved_at, '%Y-%m-%dT%H:%M:%SZ')",
                    params![
                        id,
                        regime.code,
                        unit.uid,
                        period_no(&period),
                        version,
                        approver,
                        note
                    ],
                    |r| r.get(0),
                )
                .ctx("recording the approval")?;
            tx.commit().ctx("committing the approval")?;
            let row = Recorded {
                id,
                version,
                approved_at: at,
                approver,
                note,
            };
            (Approval::of(regime, unit, &period, row), true)
        }
    };
    let below = reports.below(unit);
    let mut not_approved: Vec<BelowState> = below
        .iter()
        .filter_map(|&u| {
            let state = reports.state(u);
            (state != ReportState::Approved).then(|| {
                Some(BelowState {
                    unit: UnitRef::of(h.unit(u)?),
                    state,
                })
            })?
        })
        .collect();
    // Units that sent nothing first: they are what the report lacks.
    not_approved.sort_by_key(|b| match b.state {
        ReportState::NotReported => 0,
        ReportState::ChangedSinceApproval => 1,
        _ => 2,
    });
    // "Báo cáo thống kê hộ tịch (BC-HT) Tháng 10/2026 của Tỉnh Cao Bằng (04)"
    let report = format!(
        "{} ({}) {} của {} ({})",
        regime.name,
        regime.code,
        period.label_vi(),
        unit.full_name,
        unit.code
    );
    let mut message = if recorded {
        format!("Đã duyệt và gửi lên: {report}.")
    } else {
        format!("{report} đã được duyệt trước đây và không có số liệu mới: không duyệt lại.")
    };
    if !not_approved.is_empty() {
        message.push_str(&format!(
            " Lưu ý: {}/{} đơn vị cấp dưới chưa được duyệt ({}).",
            not_approved.len(),
            below.len(),
            not_approved
                .iter()
                .take(5)
                .map(|b| format!("{}: {}", b.unit.name, b.state.label_vi()))
                .collect::<Vec<_>>()
                .join("; ")
                + if not_approved.len() > 5 { "; …" } else { "" }
        ));
    }
    tracing::info!(
        regime = %regime.code,
        unit = %unit.code,
        period = %period.id(),
        version,
        recorded,
        below_not_approved = not_approved.len(),
        "report approved"
    );
    Ok(ApprovalOutcome {
        approval,
        recorded,
        below_expected: below.len(),
        below_not_approved_total: not_approved.len(),
        below_not_approved: not_approved.into_iter().take(200).collect(),
        message_vi: message,
    })
}

/// Every approval of one report, newest first.
pub fn history(
    conn: &Connection,
    regime: &Regime,
    unit: &Unit,
    period: &Period,
) -> Result<Vec<Approval>, StoreError> {
    let mut stmt = conn
        .prepare(
            "SELECT id, version, strftime(approved_at, '%Y-%m-%dT%H:%M:%SZ'), approver, note
             FROM approvals WHERE regime = ? AND uid = ? AND pid = ? ORDER BY id DESC",
        )
        .ctx("reading the approvals")?;
    let rows = stmt
        .query_map(params![regime.code, unit.uid, period_no(period)], |r| {
            let row = Recorded {
                id: r.get(0)?,
                version: r.get(1)?,
                approved_at: r.get(2)?,
                approver: r.get(3)?,
                note: r.get(4)?,
            };
            Ok(Approval::of(regime, unit, period, row))
        })
        .ctx("reading the approvals")?;
    rows.collect::<Result<Vec<_>, _>>()
        .ctx("reading the approvals")
}
