//! The provinces' shapes for map panels: the 34 provinces of the 2025 structure from
//! `assets/maps/provinces_2025.geojson` (with the Hoàng Sa and Trường Sa archipelagos, as on the
//! Government's maps), projected once (longitudes shrunk by the cosine of the country's middle
//! latitude, so shapes keep their proportions at Vietnam's latitudes), tessellated once into
//! triangles with lyon, in a box one unit high. A map panel scales them into its rectangle each
//! frame, which costs a multiply-add a vertex instead of a tessellation.

use std::path::{Path, PathBuf};

use lyon_tessellation::geom::point;
use lyon_tessellation::path::Path as LyonPath;
use lyon_tessellation::{BuffersBuilder, FillOptions, FillRule, FillTessellator, VertexBuffers};
use serde_json::Value;
use thiserror::Error;

/// A polygon as GeoJSON has it: its outer ring, then its holes, each of (lon, lat).
type Polygon = Vec<Vec<[f64; 2]>>;

/// Why the map file could not be used.
#[derive(Debug, Error)]
pub enum MapError {
    #[error("cannot read the provinces' map {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the provinces' map {path} is not GeoJSON as expected ({message}); rebuild it with \
         scripts/gen-assets"
    )]
    Format { path: PathBuf, message: String },
}

/// One province's shape in the map's box.
#[derive(Debug, Clone, PartialEq)]
pub struct Province {
    /// Official 2-digit code ("79").
    pub code: String,
    pub name: String,
    /// Triangles, three points each.
    pub triangles: Vec<[f32; 2]>,
    /// Each polygon's outer and inner rings, for the borders.
    pub rings: Vec<Vec<[f32; 2]>>,
}

/// The provinces, projected into a box `aspect` wide and 1 high (north up).
#[derive(Debug, Clone, PartialEq)]
pub struct ProvinceMap {
    pub aspect: f32,
    pub provinces: Vec<Province>,
    /// The offshore archipelagos: specks at any wall's scale, so a map marks and names them.
    pub archipelagos: Vec<Archipelago>,
}

/// An archipelago of a province, far offshore.
#[derive(Debug, Clone, PartialEq)]
pub struct Archipelago {
    /// "Quần đảo Hoàng Sa".
    pub name: &'static str,
    /// The province it belongs to ("48", Đà Nẵng).
    pub province: String,
    /// Each island's centre in the map's box.
    pub islands: Vec<[f32; 2]>,
}

/// The archipelagos by province, and the longitude east of which a province's land belongs to
/// them (the mainland coast lies west of 109.5° E).
const ARCHIPELAGOS: [(&str, &str); 2] = [("48", "Quần đảo Hoàng Sa"), ("56", "Quần đảo Trường Sa")];
const OFFSHORE_LON: f64 = 110.0;

impl ProvinceMap {
    /// The shipped map of the 2025 provinces under `assets`.
    pub fn load(assets: &Path) -> Result<ProvinceMap, MapError> {
        let path = assets.join("maps/provinces_2025.geojson");
        let text = std::fs::read_to_string(&path).map_err(|source| MapError::Read {
            path: path.clone(),
            source,
        })?;
        ProvinceMap::parse(&text).map_err(|message| MapError::Format { path, message })
    }

    /// Reads a FeatureCollection of (Multi)Polygons whose properties carry `code` and `name`.
    pub fn parse(text: &str) -> Result<ProvinceMap, String> {
        let doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let features = doc["features"].as_array().ok_or("no `features` array")?;
        // Per province: its polygons, each a list of rings of (lon, lat).
        let mut raw: Vec<(String, String, Vec<Polygon>)> = Vec::new();
        for (i, f) in features.iter().enumerate() {
            let props = &f["properties"];
            let code = props["code"]
                .as_str()
                .ok_or(format!("feature {i} has no properties.code"))?;
            let name = props["name"].as_str().unwrap_or(code);
            let g = &f["geometry"];
            let polygons: Vec<&Value> = match g["type"].as_str() {
                Some("Polygon") => vec![&g["coordinates"]],
                Some("MultiPolygon") => g["coordinates"]
                    .as_array()
                    .ok_or(format!("feature {code}: no coordinates"))?
                    .iter()
                    .collect(),
                other => return Err(format!("feature {code}: geometry {other:?}")),
            };
            let mut out = Vec::new();
            for p in polygons {
                let rings = p.as_array().ok_or(format!("feature {code}: bad polygon"))?;
                let mut poly = Vec::new();
                for r in rings {
                    let pts = r.as_array().ok_or(format!("feature {code}: bad ring"))?;
                    let ring: Vec<[f64; 2]> = pts
                        .iter()
                        .filter_map(|c| Some([c[0].as_f64()?, c[1].as_f64()?]))
                        .collect();
                    if ring.len() >= 3 {
                        poly.push(ring);
                    }
                }
                if !poly.is_empty() {
                    out.push(poly);
                }
            }
            raw.push((code.to_owned(), name.to_owned(), out));
        }
        let all = || raw.iter().flat_map(|p| p.2.iter().flatten().flatten());
        let (mut lo, mut hi) = ([f64::MAX; 2], [f64::MIN; 2]);
        for c in all() {
            for k in 0..2 {
                lo[k] = lo[k].min(c[k]);
                hi[k] = hi[k].max(c[k]);
            }
        }
        if lo[0] > hi[0] || hi[1] <= lo[1] {
            return Err("no coordinates".into());
        }
        let shrink = ((lo[1] + hi[1]) / 2.0).to_radians().cos();
        let height = hi[1] - lo[1];
        let project = |c: [f64; 2]| -> [f32; 2] {
            [
                ((c[0] - lo[0]) * shrink / height) as f32,
                ((hi[1] - c[1]) / height) as f32,
            ]
        };
        let mut provinces = Vec::new();
        let mut archipelagos = Vec::new();
        let mut tess = FillTessellator::new();
        for (code, name, polygons) in raw {
            if let Some((_, arch)) = ARCHIPELAGOS.iter().find(|a| a.0 == code) {
                let islands: Vec<[f32; 2]> = polygons
                    .iter()
                    .filter(|p| p[0].iter().all(|c| c[0] > OFFSHORE_LON))
                    .map(|p| {
                        let b = bbox(&p[0].iter().map(|c| project(*c)).collect::<Vec<_>>());
                        [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0]
                    })
                    .collect();
                if !islands.is_empty() {
                    archipelagos.push(Archipelago {
                        name: arch,
                        province: code.clone(),
                        islands,
                    });
                }
            }
            let mut builder = LyonPath::builder();
            let mut rings = Vec::new();
            for poly in &polygons {
                for ring in poly {
                    let pts: Vec<[f32; 2]> = ring.iter().map(|c| project(*c)).collect();
                    builder.begin(point(pts[0][0], pts[0][1]));
                    for p in &pts[1..] {
                        builder.line_to(point(p[0], p[1]));
                    }
                    builder.close();
                    rings.push(pts);
                }
            }
            let path = builder.build();
            let mut buffers: VertexBuffers<[f32; 2], u32> = VertexBuffers::new();
            tess.tessellate_path(
                &path,
                &FillOptions::default()
                    .with_fill_rule(FillRule::EvenOdd)
                    .with_tolerance(1e-4),
                &mut BuffersBuilder::new(&mut buffers, |v: lyon_tessellation::FillVertex| {
                    v.position().to_array()
                }),
            )
            .map_err(|e| format!("province {code}: {e:?}"))?;
            let triangles = buffers
                .indices
                .iter()
                .map(|&i| buffers.vertices[i as usize])
                .collect();
            provinces.push(Province {
                code,
                name,
                triangles,
                rings,
            });
        }
        Ok(ProvinceMap {
            aspect: ((hi[0] - lo[0]) * shrink / height) as f32,
            provinces,
            archipelagos,
        })
    }

    /// The province with this code.
    pub fn province(&self, code: &str) -> Option<&Province> {
        self.provinces.iter().find(|p| p.code == code)
    }
}

/// `[x0, y0, x1, y1]` of some points.
pub fn bbox(points: &[[f32; 2]]) -> [f32; 4] {
    points.iter().fold(
        [f32::MAX, f32::MAX, f32::MIN, f32::MIN],
        |[x0, y0, x1, y1], p| [x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1])],
    )
}

/// Whether `p` lies in the triangle `t` (either winding).
pub fn in_triangle(p: [f32; 2], t: &[[f32; 2]]) -> bool {
    let side =
        |a: [f32; 2], b: [f32; 2]| (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
    let (d1, d2, d3) = (side(t[0], t[1]), side(t[1], t[2]), side(t[2], t[0]));
    let neg = d1 < 0.0 || d2 < 0.0 || d3 < 0.0;
    let pos = d1 > 0.0 || d2 > 0.0 || d3 > 0.0;
    !(neg && pos)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shipped map: 34 provinces with the official codes, each a shape; the country taller
    /// than wide with its islands; Hà Nội north of Hồ Chí Minh; the triangles of every province
    /// cover about the area its outer rings enclose (a tessellation that dropped a polygon, or
    /// filled a hole, would not).
    #[test]
    fn the_shipped_map_has_the_34_provinces_tessellated_whole() {
        let map = ProvinceMap::load(&crate::catalogue::assets_dir()).expect("the map");
        assert_eq!(map.provinces.len(), 34);
        assert!(
            map.aspect > 0.5 && map.aspect < 1.2,
            "aspect {}",
            map.aspect
        );
        let cat = crate::catalogue::Catalogue::load(&crate::catalogue::assets_dir()).unwrap();
        for p in &map.provinces {
            assert!(
                cat.units.contains_key(&p.code),
                "{} {} is no unit of the catalogue",
                p.code,
                p.name
            );
            assert!(!p.triangles.is_empty(), "{} has no triangles", p.name);
            let tri_area: f32 = p
                .triangles
                .chunks_exact(3)
                .map(|t| {
                    ((t[1][0] - t[0][0]) * (t[2][1] - t[0][1])
                        - (t[2][0] - t[0][0]) * (t[1][1] - t[0][1]))
                        .abs()
                        / 2.0
                })
                .sum();
            let ring_area: f32 = p.rings.iter().map(|r| shoelace(r)).sum::<f32>();
            // Holes count negative in `ring_area` only if wound the other way; the shipped
            // provinces have none, so both measure the same land.
            assert!(
                (tri_area - ring_area).abs() <= ring_area * 0.02 + 1e-7,
                "{}: triangles {tri_area} vs rings {ring_area}",
                p.name
            );
        }
        let extent = |code: &str| bbox(&map.province(code).unwrap().triangles);
        let (hn, hcm) = (extent("01"), extent("79"));
        assert!(hn[3] < hcm[1], "Hà Nội lies north of Hồ Chí Minh");
        // Hoàng Sa (Đà Nẵng) and Trường Sa (Khánh Hòa), east of the coast, Hoàng Sa the
        // northern one.
        let names: Vec<(&str, &str)> = map
            .archipelagos
            .iter()
            .map(|a| (a.name, a.province.as_str()))
            .collect();
        assert_eq!(
            names,
            vec![("Quần đảo Hoàng Sa", "48"), ("Quần đảo Trường Sa", "56")]
        );
        // The easternmost land of every other province (islands near the coast included).
        let coast = map
            .provinces
            .iter()
            .filter(|p| p.code != "48" && p.code != "56")
            .map(|p| bbox(&p.triangles)[2])
            .fold(f32::MIN, f32::max);
        for a in &map.archipelagos {
            assert!(
                a.islands.len() >= 5,
                "{}: {} islands",
                a.name,
                a.islands.len()
            );
            assert!(
                a.islands.iter().all(|i| i[0] > coast),
                "{} lies offshore",
                a.name
            );
        }
        assert!(map.archipelagos[0].islands[0][1] < map.archipelagos[1].islands[0][1]);
    }

    fn shoelace(r: &[[f32; 2]]) -> f32 {
        let mut a = 0.0;
        for i in 0..r.len() {
            let (p, q) = (r[i], r[(i + 1) % r.len()]);
            a += p[0] * q[1] - q[0] * p[1];
        }
        (a / 2.0).abs()
    }

    #[test]
    fn a_point_is_in_a_triangle_of_either_winding() {
        let t = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let r = [t[0], t[2], t[1]];
        assert!(in_triangle([0.2, 0.2], &t) && in_triangle([0.2, 0.2], &r));
        assert!(!in_triangle([0.8, 0.8], &t) && !in_triangle([0.8, 0.8], &r));
    }

    #[test]
    fn a_map_that_is_not_geojson_is_refused_with_what_is_wrong() {
        assert!(ProvinceMap::parse("{}").unwrap_err().contains("features"));
        let e = ProvinceMap::parse(
            r#"{"features":[{"properties":{"name":"x"},"geometry":{"type":"Point"}}]}"#,
        )
        .unwrap_err();
        assert!(e.contains("code"), "{e}");
    }
}
