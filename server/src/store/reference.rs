//! Reference tables rebuilt from `assets/` at every start, inside one transaction, so SQL
//! over the facts can join them: administrative units with validity dates, the ancestor closure
//! (incl. 2024 units → their 2025 province), the old→new links, and the catalogue (domains,
//! agencies, indicators, targets, regimes).

use duckdb::{Connection, params};

use super::{DbContext, StoreError};
use crate::catalogue::{Aggregation, Catalogue, Temporal};
use crate::hierarchy::Hierarchy;

pub fn rebuild(conn: &Connection, cat: &Catalogue, h: &Hierarchy) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN TRANSACTION")
        .ctx("starting the reference rebuild")?;
    let result = rebuild_inner(conn, cat, h);
    match result {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .ctx("committing reference tables"),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn rebuild_inner(conn: &Connection, cat: &Catalogue, h: &Hierarchy) -> Result<(), StoreError> {
    conn.execute_batch(
        "CREATE OR REPLACE TABLE units (
            uid INTEGER PRIMARY KEY, code VARCHAR NOT NULL, level VARCHAR NOT NULL, era VARCHAR,
            name VARCHAR NOT NULL, full_name VARCHAR NOT NULL, kind VARCHAR NOT NULL,
            parent INTEGER, province INTEGER, valid_from DATE, valid_to DATE,
            lat DOUBLE, lon DOUBLE, population BIGINT, area_km2 DOUBLE, successor INTEGER);
         CREATE OR REPLACE TABLE unit_closure (
            uid INTEGER NOT NULL, ancestor INTEGER NOT NULL, restated BOOLEAN NOT NULL);
         CREATE OR REPLACE TABLE unit_links (
            old_uid INTEGER NOT NULL, new_uid INTEGER NOT NULL, divided BOOLEAN NOT NULL);
         CREATE OR REPLACE TABLE domains (code VARCHAR PRIMARY KEY, name_vi VARCHAR, name_en VARCHAR);
         CREATE OR REPLACE TABLE agencies (code VARCHAR PRIMARY KEY, name VARCHAR, name_en VARCHAR);
         CREATE OR REPLACE TABLE indicators (
            code VARCHAR PRIMARY KEY, name_vi VARCHAR, name_en VARCHAR, unit VARCHAR,
            frequency VARCHAR, domain VARCHAR, agency VARCHAR, aggregation VARCHAR,
            weight VARCHAR, numerator VARCHAR, denominator VARCHAR, scale DOUBLE,
            temporal VARCHAR, higher_is_better BOOLEAN, nonnegative BOOLEAN, decimals INTEGER);
         CREATE OR REPLACE TABLE targets (
            indicator VARCHAR, year SMALLINT, kind VARCHAR, value DOUBLE);
         CREATE OR REPLACE TABLE regimes (
            code VARCHAR PRIMARY KEY, name VARCHAR, agency VARCHAR, level VARCHAR,
            frequency VARCHAR, deadline_days INTEGER);
         CREATE OR REPLACE TABLE regime_indicators (regime VARCHAR, indicator VARCHAR, level VARCHAR);
         DROP TABLE IF EXISTS period_parents;
         DROP TABLE IF EXISTS period_ytd;
         DROP TABLE IF EXISTS unit_counts;",
    )
    .ctx("creating reference tables")?;

    {
        let mut app = conn.appender("units").ctx("loading units")?;
        for u in h.units() {
            let province = h.province_of(u.uid).map(|p| p.uid);
            let (from, to) = match u.era {
                Some(e) => (Some(e.valid_from().iso()), e.valid_to().map(|d| d.iso())),
                None => (None, None),
            };
            app.append_row(params![
                u.uid,
                u.code,
                u.level.as_str(),
                u.era.map(|e| e.as_str()),
                u.name,
                u.full_name,
                u.kind,
                u.parent,
                province,
                from,
                to,
                u.lat,
                u.lon,
                u.population,
                u.area_km2,
                u.successor,
            ])
            .ctx("loading units")?;
        }
    }
    {
        let mut app = conn.appender("unit_closure").ctx("loading unit closure")?;
        for u in h.units() {
            for a in h.ancestors(u.uid) {
                let restated = h
                    .unit(a)
                    .is_some_and(|au| au.era.is_some() && au.era != u.era);
                app.append_row(params![u.uid, a, restated])
                    .ctx("loading unit closure")?;
            }
        }
    }
    {
        let mut app = conn.appender("unit_links").ctx("loading unit links")?;
        for l in h.links() {
            app.append_row(params![l.old, l.new, l.divided])
                .ctx("loading unit links")?;
        }
    }
    {
        let mut app = conn.appender("domains").ctx("loading domains")?;
        for d in &cat.domains {
            app.append_row(params![d.code, d.name_vi, d.name_en])
                .ctx("loading domains")?;
        }
        let mut app = conn.appender("agencies").ctx("loading agencies")?;
        for a in &cat.agencies {
            app.append_row(params![a.code, a.name, a.name_en])
                .ctx("loading agencies")?;
        }
        let mut app = conn.appender("indicators").ctx("loading indicators")?;
        let mut tapp = conn.appender("targets").ctx("loading targets")?;
        for i in &cat.indicators {
            app.append_row(params![
                i.code,
                i.name_vi,
                i.name_en,
                i.unit,
                i.frequency.as_str(),
                i.domain,
                i.agency,
                aggregation_str(i.aggregation),
                i.weight,
                i.numerator,
                i.denominator,
                i.scale,
                temporal_str(i.temporal),
                i.higher_is_better,
                i.nonnegative,
                i.decimals as i32,
            ])
            .ctx("loading indicators")?;
            if let Some(t) = &i.target {
                for (y, v) in &t.values {
                    tapp.append_row(params![i.code, *y as i16, format!("{:?}", t.kind), v])
                        .ctx("loading targets")?;
                }
            }
        }
        let mut app = conn.appender("regimes").ctx("loading regimes")?;
        let mut rapp = conn
            .appender("regime_indicators")
            .ctx("loading regime indicators")?;
        for r in &cat.regimes {
            app.append_row(params![
                r.code,
                r.name,
                r.agency,
                r.level.as_str(),
                r.frequency.as_str(),
                r.deadline_days as i32
            ])
            .ctx("loading regimes")?;
            for i in &r.indicators {
                rapp.append_row(params![r.code, i, r.level.as_str()])
                    .ctx("loading regime indicators")?;
            }
        }
    }
    Ok(())
}

pub fn aggregation_str(a: Aggregation) -> &'static str {
    match a {
        Aggregation::Sum => "sum",
        Aggregation::WeightedMean => "weighted_mean",
        Aggregation::Ratio => "ratio",
        Aggregation::None => "none",
    }
}

pub fn temporal_str(t: Temporal) -> &'static str {
    match t {
        Temporal::Sum => "sum",
        Temporal::Last => "last",
        Temporal::Mean => "mean",
        Temporal::None => "none",
    }
}
