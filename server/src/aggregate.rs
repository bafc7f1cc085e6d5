//! Aggregation up the hierarchy and through time, run inside the transaction of each accepted
//! upload for the (indicator, year) pairs it touched — not as a nightly job. For each pair the
//! serving table `cells` is rebuilt from the reported values in `current_obs`:
//!
//! 1. reported totals, as they are;
//! 2. every ancestor by the indicator's rule (sum, or weighted mean with the weight indicator's
//!    value for the unit in the latest year available), including the 2025 province a 2024 unit
//!    went into — so 2023 figures exist for today's 34 provinces;
//! 3. quarters, halves, years and year-to-date from months (or quarters), only when every
//!    sub-period is present (a quarter of two months would mislead);
//! 4. ratios of two additive indicators, at every unit and period where both parts exist.
//!
//! Indicators that depend on others are recomputed after them: means weighted by a changed
//! weight (for that year and later, as later years may borrow it), ratios of a changed part.
//! The cells that changed are returned, for the live push.

use std::collections::BTreeSet;

use duckdb::{Connection, params};
use serde::Serialize;

use crate::catalogue::{Aggregation, Catalogue};
use crate::store::{DbContext, StoreError};

/// Above this many changed cells an event says "resynchronise" instead of listing them.
pub const MAX_LISTED_CHANGES: usize = 200_000;

/// One served value that changed: `value` is `None` when it no longer exists.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellChange {
    pub indicator: String,
    pub uid: u32,
    pub period: String,
    pub value: Option<f64>,
}

/// What a recompute changed.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    /// Number of served values that changed, appeared or disappeared.
    pub count: usize,
    /// The changes, unless there were more than [`MAX_LISTED_CHANGES`].
    pub cells: Option<Vec<CellChange>>,
    /// The (indicator, year) pairs recomputed, dependents included.
    pub pairs: BTreeSet<(String, i32)>,
}

/// Recomputes the cells of `direct` pairs and of everything derived from them. Must run inside
/// the caller's transaction.
pub fn recompute(
    conn: &Connection,
    cat: &Catalogue,
    direct: &BTreeSet<(String, i32)>,
    version: i64,
) -> Result<Changes, StoreError> {
    let phases = plan(conn, cat, direct)?;
    let all: BTreeSet<(String, i32)> = phases.iter().flatten().cloned().collect();
    if all.is_empty() {
        return Ok(Changes::default());
    }
    load_pairs(conn, "agg_affected", &all)?;
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE agg_old AS
            SELECT c.indicator, c.uid, c.period, c.value
            FROM cells c JOIN agg_affected a USING (indicator, year);
         DELETE FROM cells USING agg_affected a
            WHERE cells.indicator = a.indicator AND cells.year = a.year;",
    )
    .ctx("clearing cells to recompute")?;

    let t = std::time::Instant::now();
    tracing::debug!(
        pairs = all.len(),
        ms = t.elapsed().as_millis() as u64,
        "cleared"
    );
    for (n, phase) in phases.iter().enumerate() {
        if phase.is_empty() {
            continue;
        }
        load_pairs(conn, "agg_phase", phase)?;
        if n < 2 {
            spatial(conn, version)?;
            tracing::debug!(phase = n, ms = t.elapsed().as_millis() as u64, "spatial");
            temporal(conn, version)?;
            tracing::debug!(phase = n, ms = t.elapsed().as_millis() as u64, "temporal");
        } else {
            ratios(conn, version)?;
            tracing::debug!(phase = n, ms = t.elapsed().as_millis() as u64, "ratios");
        }
    }

    let count: i64 = conn
        .query_row(DIFF_COUNT, [], |r| r.get(0))
        .ctx("counting changed cells")?;
    let count = count as usize;
    tracing::debug!(count, ms = t.elapsed().as_millis() as u64, "diff counted");
    let cells = if count <= MAX_LISTED_CHANGES {
        let mut stmt = conn.prepare(DIFF_ROWS).ctx("listing changed cells")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(CellChange {
                    indicator: r.get(0)?,
                    uid: r.get(1)?,
                    period: r.get(2)?,
                    value: r.get(3)?,
                })
            })
            .ctx("listing changed cells")?;
        Some(
            rows.collect::<Result<Vec<_>, _>>()
                .ctx("listing changed cells")?,
        )
    } else {
        None
    };
    conn.execute_batch("DROP TABLE IF EXISTS agg_old; DROP TABLE IF EXISTS agg_base;")
        .ctx("dropping scratch tables")?;
    Ok(Changes {
        count,
        cells,
        pairs: all,
    })
}

const DIFF_COUNT: &str = "
    SELECT count(*)
    FROM (SELECT c.indicator, c.uid, c.period, c.value
          FROM cells c JOIN agg_affected a USING (indicator, year)) n
    FULL OUTER JOIN agg_old o
        ON o.indicator = n.indicator AND o.uid = n.uid AND o.period = n.period
    WHERE n.value IS DISTINCT FROM o.value";

const DIFF_ROWS: &str = "
    SELECT coalesce(n.indicator, o.indicator), coalesce(n.uid, o.uid),
           coalesce(n.period, o.period), n.value
    FROM (SELECT c.indicator, c.uid, c.period, c.value
          FROM cells c JOIN agg_affected a USING (indicator, year)) n
    FULL OUTER JOIN agg_old o
        ON o.indicator = n.indicator AND o.uid = n.uid AND o.period = n.period
    WHERE n.value IS DISTINCT FROM o.value
    ORDER BY 1, 3, 2";

/// Splits the work into three ordered phases: additive and unaggregated indicators, then
/// weighted means (their weights come from phase one), then ratios (their parts come from
/// phases one and two).
fn plan(
    conn: &Connection,
    cat: &Catalogue,
    direct: &BTreeSet<(String, i32)>,
) -> Result<[BTreeSet<(String, i32)>; 3], StoreError> {
    let mut phases: [BTreeSet<(String, i32)>; 3] = Default::default();
    for (code, year) in direct {
        let Some(ind) = cat.indicator(code) else {
            continue;
        };
        let phase = match ind.aggregation {
            Aggregation::Sum | Aggregation::None => 0,
            Aggregation::WeightedMean => 1,
            Aggregation::Ratio => 2,
        };
        phases[phase].insert((ind.code.clone(), *year));
    }
    // A weight's value for one year is borrowed by later years that have none yet.
    let last_year: Option<i32> = conn
        .query_row("SELECT max(year)::INTEGER FROM current_obs", [], |r| {
            r.get(0)
        })
        .ctx("finding the last year with data")?;
    let last_year = last_year.unwrap_or(0);
    let first_phase: Vec<(String, i32)> = phases[0].iter().cloned().collect();
    for (code, year) in &first_phase {
        for dep in cat.dependents_of(code) {
            match dep.aggregation {
                Aggregation::WeightedMean => {
                    for y in *year..=last_year.max(*year) {
                        phases[1].insert((dep.code.clone(), y));
                    }
                }
                Aggregation::Ratio => {
                    phases[2].insert((dep.code.clone(), *year));
                }
                Aggregation::Sum | Aggregation::None => {}
            }
        }
    }
    let second: Vec<(String, i32)> = phases[1].iter().cloned().collect();
    for (code, year) in &second {
        for dep in cat.dependents_of(code) {
            if dep.aggregation == Aggregation::Ratio {
                phases[2].insert((dep.code.clone(), *year));
            }
        }
    }
    Ok(phases)
}

fn load_pairs(
    conn: &Connection,
    table: &str,
    pairs: &BTreeSet<(String, i32)>,
) -> Result<(), StoreError> {
    conn.execute_batch(&format!(
        "CREATE OR REPLACE TEMP TABLE {table} (indicator VARCHAR, year SMALLINT)"
    ))
    .ctx("preparing the recompute")?;
    let mut app = conn.appender(table).ctx("preparing the recompute")?;
    for (code, year) in pairs {
        app.append_row(params![code, *year as i16])
            .ctx("preparing the recompute")?;
    }
    Ok(())
}

/// Steps 1 and 2 for the pairs in `agg_phase`.
fn spatial(conn: &Connection, version: i64) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE agg_base AS
            SELECT o.indicator, o.uid, o.period, o.year, o.value, u.level, u.era
            FROM current_obs o
            JOIN agg_phase a USING (indicator, year)
            JOIN units u ON u.uid = o.uid
            WHERE o.disagg = '';",
    )
    .ctx("collecting reported values")?;
    conn.execute(
        "INSERT INTO cells
            SELECT indicator, uid, period, year, value, 'reported', 1, 1, ?
            FROM agg_base",
        [version],
    )
    .ctx("storing reported values")?;
    conn.execute(
        "INSERT INTO cells
            SELECT b.indicator, c.ancestor, b.period, b.year, sum(b.value),
                   CASE WHEN bool_or(c.restated) THEN 'restated' ELSE 'aggregated' END,
                   count(*), coalesce(any_value(uc.n), count(*)), ?
            FROM agg_base b
            JOIN indicators i ON i.code = b.indicator AND i.aggregation = 'sum'
            JOIN unit_closure c ON c.uid = b.uid
            LEFT JOIN unit_counts uc
                ON uc.ancestor = c.ancestor AND uc.level = b.level AND uc.era = b.era
            GROUP BY b.indicator, c.ancestor, b.period, b.year, b.level, b.era",
        [version],
    )
    .ctx("summing up the hierarchy")?;
    // Weights: the weight indicator's yearly value for the same unit, from the latest year up
    // to the period's (later years borrow the last known), else the earliest after it.
    conn.execute_batch(
        "CREATE OR REPLACE TEMP TABLE agg_weights AS
         WITH keys AS (
             SELECT DISTINCT b.indicator, i.weight, b.uid, b.year
             FROM agg_base b
             JOIN indicators i ON i.code = b.indicator AND i.aggregation = 'weighted_mean'),
         wv AS (
             SELECT indicator AS wind, uid, year, value FROM cells
             WHERE period = CAST(year AS VARCHAR)
               AND indicator IN (SELECT weight FROM indicators WHERE weight IS NOT NULL))
         SELECT k.indicator, k.uid, k.year, coalesce(before.value, after.value) AS w
         FROM keys k
         ASOF LEFT JOIN wv before
             ON before.wind = k.weight AND before.uid = k.uid AND k.year >= before.year
         ASOF LEFT JOIN wv after
             ON after.wind = k.weight AND after.uid = k.uid AND k.year <= after.year;",
    )
    .ctx("finding weights")?;
    conn.execute(
        "INSERT INTO cells
            SELECT b.indicator, c.ancestor, b.period, b.year,
                   sum(b.value * w.w) / sum(w.w),
                   CASE WHEN bool_or(c.restated) THEN 'restated' ELSE 'aggregated' END,
                   count(*), coalesce(any_value(uc.n), count(*)), ?
            FROM agg_base b
            JOIN agg_weights w USING (indicator, uid, year)
            JOIN unit_closure c ON c.uid = b.uid
            LEFT JOIN unit_counts uc
                ON uc.ancestor = c.ancestor AND uc.level = b.level AND uc.era = b.era
            WHERE w.w IS NOT NULL AND w.w > 0
            GROUP BY b.indicator, c.ancestor, b.period, b.year, b.level, b.era",
        [version],
    )
    .ctx("averaging up the hierarchy")?;
    Ok(())
}

/// Step 3 for the pairs in `agg_phase`: roll months (or quarters) into quarters, halves and
/// years by joining each to its parents, and into year-to-date with a running window (a join
/// would multiply every month by the up to twelve year-to-dates it belongs to).
fn temporal(conn: &Connection, version: i64) -> Result<(), StoreError> {
    for (rule, agg) in [
        ("sum", "sum(c.value)"),
        ("mean", "avg(c.value)"),
        ("last", "arg_max(c.value, c.period)"),
    ] {
        conn.execute(
            &format!(
                "INSERT INTO cells
                 SELECT c.indicator, c.uid, pp.parent, c.year, {agg},
                        CASE WHEN bool_and(c.kind = 'restated') THEN 'restated' ELSE 'rolled' END,
                        min(c.n_units), max(c.n_expected), ?
                 FROM cells c
                 JOIN agg_phase a USING (indicator, year)
                 JOIN indicators i ON i.code = c.indicator AND i.temporal = '{rule}'
                 JOIN period_parents pp ON pp.period = c.period AND NOT pp.ytd
                 GROUP BY c.indicator, c.uid, pp.parent, c.year, pp.n_sub
                 HAVING count(*) = pp.n_sub"
            ),
            [version],
        )
        .ctx("rolling periods up")?;
    }
    // Year-to-date ending at position p exists when all of positions 1..p are present.
    conn.execute(
        "INSERT INTO cells
         SELECT indicator, uid, ytd, year,
                CASE temporal WHEN 'sum' THEN s WHEN 'mean' THEN m ELSE value END,
                CASE WHEN all_restated THEN 'restated' ELSE 'rolled' END, nu, ne, ?
         FROM (
             SELECT c.indicator, c.uid, c.year, c.value, i.temporal, py.pos, py.ytd,
                    sum(c.value) OVER w AS s, avg(c.value) OVER w AS m,
                    count(*) OVER w AS n, min(c.n_units) OVER w AS nu,
                    max(c.n_expected) OVER w AS ne,
                    bool_and(c.kind = 'restated') OVER w AS all_restated
             FROM cells c
             JOIN agg_phase a USING (indicator, year)
             JOIN indicators i ON i.code = c.indicator AND i.temporal <> 'none'
             JOIN period_ytd py ON py.period = c.period AND py.frequency = i.frequency
             WINDOW w AS (PARTITION BY c.indicator, c.uid, c.year ORDER BY py.pos
                          ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW))
         WHERE n = pos",
        [version],
    )
    .ctx("rolling up the year to date")?;
    Ok(())
}

/// Step 4 for the ratio indicators in `agg_phase`.
fn ratios(conn: &Connection, version: i64) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO cells
            SELECT r.code, n.uid, n.period, n.year, n.value / d.value * r.scale, 'ratio',
                   least(n.n_units, d.n_units), greatest(n.n_expected, d.n_expected), ?
            FROM agg_phase a
            JOIN indicators r ON r.code = a.indicator AND r.aggregation = 'ratio'
            JOIN cells n ON n.indicator = r.numerator AND n.year = a.year
            JOIN cells d ON d.indicator = r.denominator AND d.year = a.year
                AND d.uid = n.uid AND d.period = n.period
            WHERE d.value <> 0
              AND (r.frequency <> 'year' OR n.period = CAST(n.year AS VARCHAR))",
        [version],
    )
    .ctx("computing ratios")?;
    Ok(())
}
