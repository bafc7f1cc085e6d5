//! Vietnam's administrative units in their two structures — the 2024 structure (63 provinces,
//! 696 districts, 10,035 communes; in force until 30/06/2025) and the 2025 structure (34
//! provinces, 3,321 communes, no districts; from 01/07/2025) — with official codes, parents, the
//! old→new links, and the ancestor closure that aggregation walks. Each 2024 province has the 2025
//! province it went into whole as an extra ancestor, so history before the reform adds up in
//! today's structure.
//!
//! A unit's id (`uid`) is `era × 1,000,000 + level × 100,000 + code` (the nation is 0): official
//! codes repeat across structures (79 is Hồ Chí Minh in both) and across levels ("01", "001",
//! "00001"), so the code alone is not a key.

// Keys are unit ids and the official codes and names of the assets; lookups of uploaded text only
// probe this fixed set, so the fast hash cannot be flooded.
use rustc_hash::FxHashMap as HashMap;
use std::path::Path;

use dieuhanh_protocol::period::{CivilDate, Period};
use serde::{Deserialize, Serialize};

use crate::text::{fold_diacritics, fold_key};

/// The day the 2025 structure came into force.
pub const REFORM_DATE: CivilDate = CivilDate {
    year: 2025,
    month: 7,
    day: 1,
};
/// The 2024 structure dates from Hà Tây's merger into Hà Nội (01/08/2008). The shipped data is
/// the structure on 30/06/2025; commune rearrangements between 2019 and 2025 are not modelled.
pub const LEGACY_FROM: CivilDate = CivilDate {
    year: 2008,
    month: 8,
    day: 1,
};
pub const NATION_UID: u32 = 0;

/// Level of an administrative unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Nation,
    Province,
    District,
    Commune,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Nation => "nation",
            Level::Province => "province",
            Level::District => "district",
            Level::Commune => "commune",
        }
    }

    pub fn parse(text: &str) -> Option<Level> {
        match fold_key(text).as_str() {
            "nation" | "toàn quốc" | "quốc gia" => Some(Level::Nation),
            "province" | "tỉnh" | "cấp tỉnh" => Some(Level::Province),
            "district" | "huyện" | "cấp huyện" => Some(Level::District),
            "commune" | "xã" | "cấp xã" => Some(Level::Commune),
            _ => None,
        }
    }

    /// What units of this level are called in a count: "34 tỉnh", "56 xã".
    pub fn noun_vi(self) -> &'static str {
        match self {
            Level::Nation => "toàn quốc",
            Level::Province => "tỉnh",
            Level::District => "huyện",
            Level::Commune => "xã",
        }
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Level::Nation => "Toàn quốc",
            Level::Province => "Cấp tỉnh",
            Level::District => "Cấp huyện",
            Level::Commune => "Cấp xã",
        }
    }

    fn digit(self) -> u32 {
        match self {
            Level::Nation => 0,
            Level::Province => 0,
            Level::District => 1,
            Level::Commune => 2,
        }
    }

    /// Width of the official code.
    pub fn code_width(self) -> usize {
        match self {
            Level::Nation => 2,
            Level::Province => 2,
            Level::District => 3,
            Level::Commune => 5,
        }
    }
}

/// Which administrative structure a unit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Era {
    /// 63 provinces with districts, until 30/06/2025.
    #[serde(rename = "2024")]
    Before2025,
    /// 34 provinces, no districts, since 01/07/2025.
    #[serde(rename = "2025")]
    Since2025,
}

impl Era {
    pub fn as_str(self) -> &'static str {
        match self {
            Era::Before2025 => "2024",
            Era::Since2025 => "2025",
        }
    }

    /// The structure in force on a date.
    pub fn at(date: CivilDate) -> Era {
        if date < REFORM_DATE {
            Era::Before2025
        } else {
            Era::Since2025
        }
    }

    /// The structure a period is reported in: the one in force on its last day.
    pub fn of_period(period: &Period) -> Era {
        Era::at(period.end_date())
    }

    fn digit(self) -> u32 {
        match self {
            Era::Before2025 => 1,
            Era::Since2025 => 2,
        }
    }

    pub fn valid_from(self) -> CivilDate {
        match self {
            Era::Before2025 => LEGACY_FROM,
            Era::Since2025 => REFORM_DATE,
        }
    }

    pub fn valid_to(self) -> Option<CivilDate> {
        match self {
            Era::Before2025 => Some(CivilDate {
                year: 2025,
                month: 6,
                day: 30,
            }),
            Era::Since2025 => None,
        }
    }
}

/// One administrative unit.
#[derive(Debug, Clone, Serialize)]
pub struct Unit {
    pub uid: u32,
    pub code: String,
    pub level: Level,
    pub era: Option<Era>,
    pub name: String,
    pub full_name: String,
    /// Tỉnh, Thành phố, Quận, Huyện, Phường, Xã, Đặc khu...
    pub kind: String,
    pub parent: Option<u32>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub population: Option<i64>,
    pub area_km2: Option<f64>,
    /// For a 2024 province: the 2025 province it went into.
    pub successor: Option<u32>,
}

impl Unit {
    /// Whether the unit is in force on `date` (the nation always is).
    pub fn in_force(&self, date: CivilDate) -> bool {
        self.era.is_none_or(|e| e == Era::at(date))
    }
}

/// Why the administrative-unit files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum HierarchyError {
    #[error("cannot read {path}: {message}; regenerate assets with scripts/gen-assets")]
    Read { path: String, message: String },
    #[error("{path} row {row}: {message}")]
    Row {
        path: String,
        row: usize,
        message: String,
    },
}

/// Why a unit reference in an upload or a query did not resolve.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResolveError {
    /// Nothing matches; `hint` suggests close names or says which structure has it.
    #[error("no administrative unit {text:?}{hint}")]
    NotFound { text: String, hint: String },
    /// The unit exists only in the other structure (before or after the 2025 reorganisation).
    #[error("{text:?} is not in force on that date: {hint}")]
    NotInForce { text: String, hint: String },
    /// Several units share the name.
    #[error("{text:?} names {count} units ({examples}); use the official code instead")]
    Ambiguous {
        text: String,
        count: usize,
        examples: String,
    },
}

#[derive(Debug, Deserialize)]
struct ProvinceRow {
    code: String,
    name: String,
    full_name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    new_code: Option<String>,
    #[serde(default)]
    population: Option<String>,
    #[serde(default)]
    area_km2: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DistrictRow {
    code: String,
    name: String,
    full_name: String,
    #[serde(rename = "type")]
    kind: String,
    province_code: String,
}

#[derive(Debug, Deserialize)]
struct CommuneRow {
    code: String,
    name: String,
    full_name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    district_code: Option<String>,
    province_code: String,
    lat: Option<f64>,
    lon: Option<f64>,
}

#[derive(Debug, Deserialize)]
struct LinkRow {
    old_code: String,
    new_code: String,
    divided: u8,
}

/// An old→new commune link (several for an old commune split between new ones).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Link {
    pub old: u32,
    pub new: u32,
    pub divided: bool,
}

/// Both structures, indexed.
#[derive(Debug, Clone)]
pub struct Hierarchy {
    units: Vec<Unit>,
    index: HashMap<u32, usize>,
    children: HashMap<u32, Vec<u32>>,
    by_code: HashMap<(Era, String), u32>,
    by_name: HashMap<(Era, Level, String), Vec<u32>>,
    by_loose_name: HashMap<(Era, Level, String), Vec<u32>>,
    /// (ancestor, level, era) → units of that level and era aggregated into the ancestor.
    descendants: HashMap<(u32, Level, Era), Vec<u32>>,
    /// unit → its ancestors, each flagged when it belongs to the other structure (restated).
    closure: HashMap<u32, Vec<(u32, bool)>>,
    links: Vec<Link>,
}

/// The id of a unit of `era` and `level` with this official code.
pub fn uid_of(era: Era, level: Level, code: &str) -> Option<u32> {
    if level == Level::Nation {
        return Some(NATION_UID);
    }
    let n: u32 = code.parse().ok()?;
    (n < 100_000).then(|| era.digit() * 1_000_000 + level.digit() * 100_000 + n)
}

impl Hierarchy {
    /// Loads `assets/admin/*.csv`.
    pub fn load(assets: &Path) -> Result<Self, HierarchyError> {
        let admin = assets.join("admin");
        let mut units = vec![Unit {
            uid: NATION_UID,
            code: "VN".into(),
            level: Level::Nation,
            era: None,
            name: "Toàn quốc".into(),
            full_name: "Cộng hòa xã hội chủ nghĩa Việt Nam".into(),
            kind: "Quốc gia".into(),
            parent: None,
            lat: None,
            lon: None,
            population: None,
            area_km2: None,
            successor: None,
        }];
        let mut links = Vec::new();

        let p24: Vec<ProvinceRow> = read_csv(&admin.join("provinces_2024.csv"))?;
        let p25: Vec<ProvinceRow> = read_csv(&admin.join("provinces_2025.csv"))?;
        let d24: Vec<DistrictRow> = read_csv(&admin.join("districts_2024.csv"))?;
        let c24: Vec<CommuneRow> = read_csv(&admin.join("communes_2024.csv"))?;
        let c25: Vec<CommuneRow> = read_csv(&admin.join("communes_2025.csv"))?;
        let lk: Vec<LinkRow> = read_csv(&admin.join("commune_links.csv"))?;

        let bad = |file: &str, row: usize, message: String| HierarchyError::Row {
            path: admin.join(file).display().to_string(),
            row: row + 2,
            message,
        };
        let uid = |era, level, code: &str, file: &str, row: usize| {
            uid_of(era, level, code).ok_or_else(|| bad(file, row, format!("bad code {code:?}")))
        };
        let parse_opt = |s: &Option<String>| -> Option<f64> {
            s.as_deref().and_then(|v| v.trim().parse::<f64>().ok())
        };

        for (era, rows, file) in [
            (Era::Before2025, &p24, "provinces_2024.csv"),
            (Era::Since2025, &p25, "provinces_2025.csv"),
        ] {
            for (i, r) in rows.iter().enumerate() {
                let successor = match (&r.new_code, era) {
                    (Some(nc), Era::Before2025) => {
                        Some(uid(Era::Since2025, Level::Province, nc, file, i)?)
                    }
                    _ => None,
                };
                units.push(Unit {
                    uid: uid(era, Level::Province, &r.code, file, i)?,
                    code: r.code.clone(),
                    level: Level::Province,
                    era: Some(era),
                    name: r.name.clone(),
                    full_name: r.full_name.clone(),
                    kind: r.kind.clone(),
                    parent: Some(NATION_UID),
                    lat: None,
                    lon: None,
                    population: parse_opt(&r.population).map(|p| p as i64),
                    area_km2: parse_opt(&r.area_km2),
                    successor,
                });
            }
        }
        for (i, r) in d24.iter().enumerate() {
            let file = "districts_2024.csv";
            units.push(Unit {
                uid: uid(Era::Before2025, Level::District, &r.code, file, i)?,
                code: r.code.clone(),
                level: Level::District,
                era: Some(Era::Before2025),
                name: r.name.clone(),
                full_name: r.full_name.clone(),
                kind: r.kind.clone(),
                parent: Some(uid(
                    Era::Before2025,
                    Level::Province,
                    &r.province_code,
                    file,
                    i,
                )?),
                lat: None,
                lon: None,
                population: None,
                area_km2: None,
                successor: None,
            });
        }
        for (era, rows, file) in [
            (Era::Before2025, &c24, "communes_2024.csv"),
            (Era::Since2025, &c25, "communes_2025.csv"),
        ] {
            for (i, r) in rows.iter().enumerate() {
                let parent = match (era, &r.district_code) {
                    (Era::Before2025, Some(d)) => uid(era, Level::District, d, file, i)?,
                    (Era::Before2025, None) => {
                        return Err(bad(file, i, "a 2024 commune needs district_code".into()));
                    }
                    (Era::Since2025, _) => uid(era, Level::Province, &r.province_code, file, i)?,
                };
                units.push(Unit {
                    uid: uid(era, Level::Commune, &r.code, file, i)?,
                    code: r.code.clone(),
                    level: Level::Commune,
                    era: Some(era),
                    name: r.name.clone(),
                    full_name: r.full_name.clone(),
                    kind: r.kind.clone(),
                    parent: Some(parent),
                    lat: r.lat,
                    lon: r.lon,
                    population: None,
                    area_km2: None,
                    successor: None,
                });
            }
        }
        for (i, r) in lk.iter().enumerate() {
            let file = "commune_links.csv";
            links.push(Link {
                old: uid(Era::Before2025, Level::Commune, &r.old_code, file, i)?,
                new: uid(Era::Since2025, Level::Commune, &r.new_code, file, i)?,
                divided: r.divided != 0,
            });
        }
        Self::build(units, links).map_err(|message| HierarchyError::Read {
            path: admin.display().to_string(),
            message,
        })
    }

    fn build(units: Vec<Unit>, links: Vec<Link>) -> Result<Self, String> {
        let mut h = Hierarchy {
            index: HashMap::with_capacity_and_hasher(units.len(), Default::default()),
            children: HashMap::default(),
            by_code: HashMap::default(),
            by_name: HashMap::default(),
            by_loose_name: HashMap::default(),
            descendants: HashMap::default(),
            closure: HashMap::default(),
            units,
            links,
        };
        for (i, u) in h.units.iter().enumerate() {
            if h.index.insert(u.uid, i).is_some() {
                return Err(format!("unit code {} appears twice", u.code));
            }
            if let Some(p) = u.parent {
                h.children.entry(p).or_default().push(u.uid);
            }
            let eras: &[Era] = match u.era {
                Some(e) => match e {
                    Era::Before2025 => &[Era::Before2025],
                    Era::Since2025 => &[Era::Since2025],
                },
                None => &[Era::Before2025, Era::Since2025],
            };
            for &era in eras {
                h.by_code.insert((era, u.code.clone()), u.uid);
                for name in name_keys(u) {
                    h.by_loose_name
                        .entry((era, u.level, fold_diacritics(&name)))
                        .or_default()
                        .push(u.uid);
                    let list = h.by_name.entry((era, u.level, name)).or_default();
                    if !list.contains(&u.uid) {
                        list.push(u.uid);
                    }
                }
            }
        }
        for u in &h.units {
            if let Some(p) = u.parent
                && !h.index.contains_key(&p)
            {
                return Err(format!("unit {} has an unknown parent", u.code));
            }
        }
        let mut descendants: HashMap<(u32, Level, Era), Vec<u32>> = HashMap::default();
        let mut closure: HashMap<u32, Vec<(u32, bool)>> = HashMap::default();
        for u in &h.units {
            let Some(era) = u.era else { continue };
            let mut list = Vec::new();
            for a in h.ancestors(u.uid) {
                descendants
                    .entry((a, u.level, era))
                    .or_default()
                    .push(u.uid);
                let restated = h.unit(a).is_some_and(|au| au.era.is_some_and(|e| e != era));
                list.push((a, restated));
            }
            closure.insert(u.uid, list);
        }
        h.descendants = descendants;
        h.closure = closure;
        Ok(h)
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn links(&self) -> &[Link] {
        &self.links
    }

    pub fn unit(&self, uid: u32) -> Option<&Unit> {
        self.index.get(&uid).map(|&i| &self.units[i])
    }

    pub fn nation(&self) -> &Unit {
        &self.units[0]
    }

    /// Direct children (for a 2024 province: its districts).
    pub fn children(&self, uid: u32) -> &[u32] {
        self.children.get(&uid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Units of `level` in `era` whose values add into `ancestor` — through districts where
    /// they exist, and from the 2024 structure into the 2025 province it went into.
    pub fn descendants(&self, ancestor: u32, level: Level, era: Era) -> &[u32] {
        self.descendants
            .get(&(ancestor, level, era))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Ancestors that aggregation adds a unit's values into: its parents up to the nation,
    /// and for a 2024 unit also the 2025 province its province went into.
    pub fn ancestors(&self, uid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        if let Some(s) = self.unit(uid).and_then(|u| u.successor) {
            out.push(s);
        }
        let mut cur = self.unit(uid).and_then(|u| u.parent);
        while let Some(p) = cur {
            let Some(pu) = self.unit(p) else { break };
            if pu.level == Level::Nation {
                break;
            }
            out.push(p);
            if let Some(s) = pu.successor {
                out.push(s);
            }
            cur = pu.parent;
        }
        if uid != NATION_UID {
            out.push(NATION_UID);
        }
        out
    }

    /// [`Hierarchy::ancestors`], precomputed, each flagged when it is of the other structure.
    pub fn closure(&self, uid: u32) -> &[(u32, bool)] {
        self.closure.get(&uid).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The unit with this official code in `era`; codes are distinct per level by their width.
    pub fn by_code(&self, era: Era, code: &str) -> Option<&Unit> {
        self.by_code
            .get(&(era, code.trim().to_uppercase()))
            .and_then(|&u| self.unit(u))
    }

    /// Resolves an official code (leading zeros may be missing, as after Excel) or a name to a
    /// unit of one of `levels` in force in `era`.
    pub fn resolve(&self, era: Era, levels: &[Level], text: &str) -> Result<&Unit, ResolveError> {
        let t = text.trim();
        let is_code = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit());
        if is_code || t.eq_ignore_ascii_case("VN") {
            for &level in levels {
                if level == Level::Nation {
                    if t.eq_ignore_ascii_case("VN") {
                        return Ok(self.nation());
                    }
                    continue;
                }
                let code = format!("{t:0>width$}", width = level.code_width());
                if code.len() != level.code_width() {
                    continue;
                }
                if let Some(u) = self.by_code(era, &code)
                    && u.level == level
                {
                    return Ok(u);
                }
            }
            let hint = self.other_era_hint(era, levels, t);
            return Err(if hint.is_empty() {
                ResolveError::NotFound {
                    text: t.to_owned(),
                    hint,
                }
            } else {
                ResolveError::NotInForce {
                    text: t.to_owned(),
                    hint,
                }
            });
        }
        let key = normalise_name(t);
        let mut found: Vec<u32> = Vec::new();
        for &level in levels {
            if let Some(list) = self.by_name.get(&(era, level, key.clone())) {
                found.extend(list);
            }
        }
        found.sort_unstable();
        found.dedup();
        match found.len() {
            1 => self.unit(found[0]).ok_or_else(|| ResolveError::NotFound {
                text: t.to_owned(),
                hint: String::new(),
            }),
            0 => {
                let hint = self.other_era_hint(era, levels, t);
                if !hint.is_empty() {
                    return Err(ResolveError::NotInForce {
                        text: t.to_owned(),
                        hint,
                    });
                }
                let mut hint = String::new();
                {
                    let loose = fold_diacritics(&key);
                    let similar: Vec<String> = levels
                        .iter()
                        .filter_map(|&l| self.by_loose_name.get(&(era, l, loose.clone())))
                        .flatten()
                        .filter_map(|&u| self.unit(u))
                        .take(3)
                        .map(|u| format!("{} ({})", u.full_name, u.code))
                        .collect();
                    if !similar.is_empty() {
                        hint = format!("; did you mean {}?", similar.join(", "));
                    }
                }
                Err(ResolveError::NotFound {
                    text: t.to_owned(),
                    hint,
                })
            }
            n => Err(ResolveError::Ambiguous {
                text: t.to_owned(),
                count: n,
                examples: found
                    .iter()
                    .take(3)
                    .filter_map(|&u| self.unit(u))
                    .map(|u| {
                        let prov = self.province_of(u.uid).map(|p| p.name.as_str());
                        format!("{} {} in {}", u.code, u.full_name, prov.unwrap_or("?"))
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            }),
        }
    }

    fn other_era_hint(&self, era: Era, levels: &[Level], text: &str) -> String {
        let other = match era {
            Era::Before2025 => Era::Since2025,
            Era::Since2025 => Era::Before2025,
        };
        let Ok(u) = self.resolve_exact(other, levels, text) else {
            return String::new();
        };
        match era {
            Era::Before2025 => format!(
                "{} ({}) belongs to the structure in force since 01/07/2025; periods up to \
                 Tháng 6/2025 are reported by the units in force then",
                u.full_name, u.code
            ),
            Era::Since2025 => format!(
                "{} ({}) ended on 30/06/2025 with the 2025 reorganisation; periods from \
                 Tháng 7/2025 are reported by the unit it became part of",
                u.full_name, u.code
            ),
        }
    }

    fn resolve_exact(&self, era: Era, levels: &[Level], text: &str) -> Result<&Unit, ()> {
        let t = text.trim();
        for &level in levels {
            let code = format!("{t:0>width$}", width = level.code_width());
            if let Some(u) = self.by_code(era, &code)
                && u.level == level
            {
                return Ok(u);
            }
            if let Some(list) = self.by_name.get(&(era, level, normalise_name(t)))
                && list.len() == 1
            {
                return self.unit(list[0]).ok_or(());
            }
        }
        Err(())
    }

    /// The province a unit lies in (itself for a province).
    pub fn province_of(&self, uid: u32) -> Option<&Unit> {
        let mut cur = self.unit(uid);
        while let Some(u) = cur {
            if u.level == Level::Province {
                return Some(u);
            }
            cur = u.parent.and_then(|p| self.unit(p));
        }
        None
    }

    /// Units of a level in force in an era.
    pub fn at_level(&self, level: Level, era: Era) -> impl Iterator<Item = &Unit> {
        self.units
            .iter()
            .filter(move |u| u.level == level && u.era.is_none_or(|e| e == era))
    }
}

/// Name keys a unit answers to: its name, its full name, and for provinces the common
/// abbreviations ("TP Hồ Chí Minh", "TP. HCM").
fn name_keys(u: &Unit) -> Vec<String> {
    let mut keys = vec![normalise_name(&u.name), normalise_name(&u.full_name)];
    if u.level == Level::Nation {
        keys.extend(["cả nước".into(), "việt nam".into(), "toàn quốc".into()]);
    }
    keys.dedup();
    keys
}

/// Folds case and spacing and expands "TP."/"Tp" and "HCM", so people's spellings match.
fn normalise_name(text: &str) -> String {
    let k = fold_key(text);
    let k = k.replace("tp.", "thành phố ").replace("tp ", "thành phố ");
    let k = k.replace("hcm", "hồ chí minh");
    k.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn read_csv<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, HierarchyError> {
    let mut rdr = csv::Reader::from_path(path).map_err(|e| HierarchyError::Read {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (i, rec) in rdr.deserialize().enumerate() {
        out.push(rec.map_err(|e| HierarchyError::Row {
            path: path.display().to_string(),
            row: i + 2,
            message: e.to_string(),
        })?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h() -> Hierarchy {
        Hierarchy::load(&crate::assets_dir()).unwrap()
    }

    #[test]
    fn structures_have_the_official_counts() {
        let h = h();
        let count = |l, e| h.at_level(l, e).count();
        assert_eq!(count(Level::Province, Era::Before2025), 63);
        assert_eq!(count(Level::District, Era::Before2025), 696);
        assert_eq!(count(Level::Commune, Era::Before2025), 10_035);
        assert_eq!(count(Level::Province, Era::Since2025), 34);
        assert_eq!(count(Level::District, Era::Since2025), 0);
        assert_eq!(count(Level::Commune, Era::Since2025), 3_321);
    }

    #[test]
    fn ho_chi_minh_2025_absorbs_old_74_77_79() {
        let h = h();
        let new79 = h.by_code(Era::Since2025, "79").unwrap().uid;
        let mut olds: Vec<&str> = h
            .at_level(Level::Province, Era::Before2025)
            .filter(|u| u.successor == Some(new79))
            .map(|u| u.code.as_str())
            .collect();
        olds.sort_unstable();
        assert_eq!(olds, ["74", "77", "79"]);
    }

    #[test]
    fn old_commune_ancestors_include_the_new_province() {
        let h = h();
        let commune = h
            .at_level(Level::Commune, Era::Before2025)
            .find(|u| h.province_of(u.uid).is_some_and(|p| p.code == "77"))
            .unwrap();
        let anc = h.ancestors(commune.uid);
        let new79 = h.by_code(Era::Since2025, "79").unwrap().uid;
        assert!(anc.contains(&new79));
        assert_eq!(*anc.last().unwrap(), NATION_UID);
        assert_eq!(anc.len(), 4, "district, province, new province, nation");
        let old77 = h.by_code(Era::Before2025, "77").unwrap().uid;
        assert_eq!(h.ancestors(old77), vec![new79, NATION_UID]);
    }

    #[test]
    fn codes_resolve_without_leading_zeros_and_names_with_abbreviations() {
        let h = h();
        let hn = h.resolve(Era::Since2025, &[Level::Province], "1").unwrap();
        assert_eq!(hn.code, "01");
        let hcm = h
            .resolve(Era::Since2025, &[Level::Province], "TP. HCM")
            .unwrap();
        assert_eq!(hcm.code, "79");
        let nation = h
            .resolve(Era::Since2025, &[Level::Nation], "Cả nước")
            .unwrap();
        assert_eq!(nation.uid, NATION_UID);
    }

    #[test]
    fn old_province_after_the_reform_is_not_in_force_with_a_hint() {
        let h = h();
        // Bình Dương (74) went into Hồ Chí Minh on 01/07/2025.
        let err = h
            .resolve(Era::Since2025, &[Level::Province], "Bình Dương")
            .unwrap_err();
        assert!(matches!(err, ResolveError::NotInForce { .. }), "{err}");
        assert!(err.to_string().contains("30/06/2025"), "{err}");
    }
}
