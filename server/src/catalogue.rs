//! The indicator catalogue: domains, agencies (ministries), indicators with their aggregation
//! rules and targets, and reporting regimes — loaded from `assets/catalogue/catalogue.toml` and
//! checked for consistency before anything is stored.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use dieuhanh_protocol::period::Frequency;
use serde::{Deserialize, Serialize};

use crate::hierarchy::Level;

/// Why the catalogue file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    /// The file could not be read.
    #[error("cannot read the catalogue {path}: {error}")]
    Read { path: String, error: std::io::Error },
    /// The TOML does not have the expected shape.
    #[error("catalogue {path} is not valid: {message}")]
    Parse { path: String, message: String },
    /// A reference or rule in the catalogue is inconsistent.
    #[error("catalogue {path}: {message}")]
    Invalid { path: String, message: String },
}

/// How values of an indicator roll up from child units to parent units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Additive: the parent is the sum of its children.
    Sum,
    /// Weighted by a yearly indicator (population, labour force) of each child.
    WeightedMean,
    /// Ratio of two additive indicators, computed at every level and period, never uploaded.
    Ratio,
    /// Not aggregated: each level reports its own value.
    None,
}

/// How values of an indicator roll up from months to quarters, halves, years and year-to-date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Temporal {
    /// Flows: the sum of the sub-periods (needs every sub-period).
    Sum,
    /// Stocks: the value of the last sub-period.
    Last,
    /// Rates and indices: the mean of the sub-periods.
    Mean,
    /// Not rolled up in time.
    None,
}

/// What a target is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    /// Year-to-date total against the annual plan ("đạt x% kế hoạch năm").
    AnnualTotal,
    /// % change vs the same period last year against a planned growth rate.
    Growth,
    /// The value itself against a planned level.
    Level,
}

impl TargetKind {
    /// The name used in the catalogue and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::AnnualTotal => "annual_total",
            TargetKind::Growth => "growth",
            TargetKind::Level => "level",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    pub kind: TargetKind,
    /// Planned value by year.
    pub values: BTreeMap<i32, f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Domain {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Agency {
    pub code: String,
    pub name: String,
    pub name_en: String,
}

/// Parameters of the seeded demo generator (not part of the public catalogue).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct DemoProfile {
    /// National magnitude per period of the indicator's frequency in 2024.
    #[serde(default)]
    pub base: f64,
    /// Yearly growth of the magnitude.
    #[serde(default)]
    pub growth: f64,
    #[serde(default)]
    pub season: String,
    #[serde(default)]
    pub spread: String,
    #[serde(default)]
    pub noise: f64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    #[serde(default)]
    pub integer: bool,
    /// Generated as a share of another indicator of the same unit and period.
    pub share_of: Option<String>,
    #[serde(default)]
    pub share: f64,
    #[serde(default)]
    pub share_noise: f64,
    #[serde(default)]
    pub share_growth: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Indicator {
    pub code: String,
    pub name_vi: String,
    pub name_en: String,
    pub unit: String,
    #[schema(value_type = String, example = "month")]
    pub frequency: Frequency,
    pub domain: String,
    pub agency: String,
    pub aggregation: Aggregation,
    /// For `weighted_mean`: the yearly indicator whose values weight the children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<String>,
    /// For `ratio`: numerator and denominator indicators and the scale (100 for %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denominator: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<f64>,
    pub temporal: Temporal,
    /// `true` when a rise is good news, `false` when a fall is; absent when neither.
    #[serde(default)]
    pub higher_is_better: Option<bool>,
    #[serde(default = "yes")]
    pub nonnegative: bool,
    #[serde(default)]
    pub decimals: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(default, skip_serializing)]
    #[schema(ignore)]
    pub demo: Option<DemoProfile>,
}

fn yes() -> bool {
    true
}

impl Indicator {
    /// Whether a "%"-like unit, for which changes read as percentage points.
    pub fn is_rate(&self) -> bool {
        self.unit.starts_with('%')
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Regime {
    pub code: String,
    pub name: String,
    pub agency: String,
    #[schema(value_type = String, example = "commune")]
    pub level: Level,
    #[schema(value_type = String, example = "month")]
    pub frequency: Frequency,
    /// Days after the end of the period by which the report is due.
    pub deadline_days: u16,
    pub indicators: Vec<String>,
}

impl Regime {
    /// Whether `period` is one of this regime's reports: a month of a monthly regime, and so
    /// on. The refusal says which kind it wants.
    pub fn period_fits(&self, period: &dieuhanh_protocol::period::Period) -> Result<(), String> {
        if period.frequency() == Some(self.frequency) {
            return Ok(());
        }
        Err(format!(
            "regime {} is reported by {} ({}); {} is not such a period",
            self.code,
            self.frequency.as_str(),
            self.frequency.label_vi().to_lowercase(),
            period.label_vi()
        ))
    }
}

#[derive(Debug, Deserialize)]
struct File {
    domain: Vec<Domain>,
    agency: Vec<Agency>,
    indicator: Vec<Indicator>,
    regime: Vec<Regime>,
}

/// The whole catalogue, with lookups by code and by Vietnamese name.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub domains: Vec<Domain>,
    pub agencies: Vec<Agency>,
    pub indicators: Vec<Indicator>,
    pub regimes: Vec<Regime>,
    by_code: HashMap<String, usize>,
    by_name: HashMap<String, usize>,
}

impl Catalogue {
    /// Reads and checks the catalogue file.
    pub fn load(path: &Path) -> Result<Self, CatalogueError> {
        let text = std::fs::read_to_string(path).map_err(|error| CatalogueError::Read {
            path: path.display().to_string(),
            error,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and checks catalogue text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, CatalogueError> {
        let file: File = toml::from_str(text).map_err(|e| CatalogueError::Parse {
            path: origin.to_owned(),
            message: e.to_string(),
        })?;
        let mut cat = Catalogue {
            domains: file.domain,
            agencies: file.agency,
            indicators: file.indicator,
            regimes: file.regime,
            by_code: HashMap::new(),
            by_name: HashMap::new(),
        };
        for (i, ind) in cat.indicators.iter().enumerate() {
            cat.by_code.insert(ind.code.to_lowercase(), i);
            cat.by_name.insert(crate::text::fold_key(&ind.name_vi), i);
        }
        cat.check().map_err(|message| CatalogueError::Invalid {
            path: origin.to_owned(),
            message,
        })?;
        Ok(cat)
    }

    fn check(&self) -> Result<(), String> {
        let domains: HashSet<&str> = self.domains.iter().map(|d| d.code.as_str()).collect();
        let agencies: HashSet<&str> = self.agencies.iter().map(|a| a.code.as_str()).collect();
        if self.by_code.len() != self.indicators.len() {
            return Err("two indicators share a code".into());
        }
        if self.by_name.len() != self.indicators.len() {
            return Err("two indicators share a Vietnamese name".into());
        }
        for ind in &self.indicators {
            let at = |m: &str| format!("indicator {}: {m}", ind.code);
            if !domains.contains(ind.domain.as_str()) {
                return Err(at(&format!("unknown domain {}", ind.domain)));
            }
            if !agencies.contains(ind.agency.as_str()) {
                return Err(at(&format!("unknown agency {}", ind.agency)));
            }
            match ind.aggregation {
                Aggregation::WeightedMean => {
                    let w = ind
                        .weight
                        .as_deref()
                        .and_then(|w| self.indicator(w))
                        .ok_or_else(|| at("weighted_mean needs `weight` naming an indicator"))?;
                    if w.frequency != Frequency::Year || w.aggregation != Aggregation::Sum {
                        return Err(at("the weight must be a yearly additive indicator"));
                    }
                }
                Aggregation::Ratio => {
                    for part in [&ind.numerator, &ind.denominator] {
                        let p = part
                            .as_deref()
                            .and_then(|c| self.indicator(c))
                            .ok_or_else(|| at("ratio needs `numerator` and `denominator`"))?;
                        if p.aggregation != Aggregation::Sum {
                            return Err(at("ratio parts must be additive (sum) indicators"));
                        }
                        // A yearly ratio may divide yearly totals of sub-yearly parts (GRDP per head).
                        if p.frequency != ind.frequency && ind.frequency != Frequency::Year {
                            return Err(at("ratio parts must have the ratio's frequency"));
                        }
                    }
                    if ind.scale.is_none() {
                        return Err(at("ratio needs `scale` (100 for a percentage)"));
                    }
                }
                Aggregation::Sum | Aggregation::None => {}
            }
            if ind.frequency == Frequency::Year && ind.temporal != Temporal::None {
                // Yearly indicators have no sub-periods to roll up; `last` is fine as a
                // statement about what the value means, so only reject nonsense.
                if ind.temporal == Temporal::Mean {
                    return Err(at("a yearly indicator cannot have temporal = mean"));
                }
            }
        }
        let mut reported: HashSet<&str> = HashSet::new();
        for r in &self.regimes {
            if !agencies.contains(r.agency.as_str()) {
                return Err(format!("regime {}: unknown agency {}", r.code, r.agency));
            }
            for code in &r.indicators {
                let ind = self
                    .indicator(code)
                    .ok_or_else(|| format!("regime {}: unknown indicator {code}", r.code))?;
                if ind.frequency != r.frequency {
                    return Err(format!(
                        "regime {}: indicator {code} is {:?} but the regime is {:?}",
                        r.code, ind.frequency, r.frequency
                    ));
                }
                if ind.aggregation == Aggregation::Ratio {
                    return Err(format!(
                        "regime {}: {code} is a ratio, computed from its parts, not reported",
                        r.code
                    ));
                }
                reported.insert(ind.code.as_str());
            }
        }
        for ind in &self.indicators {
            if ind.aggregation != Aggregation::Ratio && !reported.contains(ind.code.as_str()) {
                return Err(format!("indicator {} is in no reporting regime", ind.code));
            }
        }
        Ok(())
    }

    /// The indicator with this code (case-insensitive).
    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.by_code
            .get(&code.trim().to_lowercase())
            .map(|&i| &self.indicators[i])
    }

    /// The indicator with this code or Vietnamese name (diacritics kept, case and spacing folded).
    pub fn resolve_indicator(&self, text: &str) -> Option<&Indicator> {
        self.indicator(text).or_else(|| {
            self.by_name
                .get(&crate::text::fold_key(text))
                .map(|&i| &self.indicators[i])
        })
    }

    pub fn agency(&self, code: &str) -> Option<&Agency> {
        self.agencies
            .iter()
            .find(|a| a.code.eq_ignore_ascii_case(code.trim()))
    }

    /// The agency with this code or Vietnamese name (diacritics kept, case and spacing folded).
    pub fn resolve_agency(&self, text: &str) -> Option<&Agency> {
        self.agency(text).or_else(|| {
            let key = crate::text::fold_key(text);
            self.agencies
                .iter()
                .find(|a| crate::text::fold_key(&a.name) == key)
        })
    }

    pub fn regime(&self, code: &str) -> Option<&Regime> {
        self.regimes
            .iter()
            .find(|r| r.code.eq_ignore_ascii_case(code.trim()))
    }

    /// The regimes that collect this indicator, i.e. the levels at which it may be uploaded.
    pub fn regimes_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Regime> + 'a {
        self.regimes
            .iter()
            .filter(move |r| r.indicators.iter().any(|c| c == code))
    }

    /// Indicators whose values are computed from `code` (ratios using it, means weighted by it).
    pub fn dependents_of<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a Indicator> + 'a {
        self.indicators.iter().filter(move |i| {
            i.weight.as_deref() == Some(code)
                || i.numerator.as_deref() == Some(code)
                || i.denominator.as_deref() == Some(code)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> Catalogue {
        Catalogue::load(&crate::assets_dir().join("catalogue/catalogue.toml")).unwrap()
    }

    #[test]
    fn shipped_catalogue_covers_ten_domains_with_40_to_60_indicators() {
        let cat = shipped();
        assert_eq!(cat.domains.len(), 10);
        assert!((40..=60).contains(&cat.indicators.len()));
        for d in &cat.domains {
            assert!(
                cat.indicators.iter().any(|i| i.domain == d.code),
                "domain {} has no indicator",
                d.code
            );
        }
    }

    #[test]
    fn indicators_resolve_by_code_or_vietnamese_name() {
        let cat = shipped();
        assert_eq!(cat.resolve_indicator("vm02").unwrap().code, "VM02");
        assert_eq!(
            cat.resolve_indicator("  Kim ngạch  xuất khẩu hàng hóa ")
                .unwrap()
                .code,
            "VM02"
        );
        assert!(cat.resolve_indicator("Kim ngach xuat khau").is_none());
    }

    #[test]
    fn ratio_of_a_non_additive_part_is_rejected() {
        let text = std::fs::read_to_string(crate::assets_dir().join("catalogue/catalogue.toml"))
            .unwrap()
            .replace("numerator = \"HC02\"", "numerator = \"TT04\"");
        let err = Catalogue::parse(&text, "test").unwrap_err().to_string();
        assert!(err.contains("HC03") && err.contains("additive"), "{err}");
    }
}
