//! The live protocol between the server (`/live`) and walls: JSON text frames, one message
//! each, tagged by `type`. A client subscribes to views — the cells a panel needs — and gets a
//! snapshot, then deltas whenever an accepted upload changes any of them (re-aggregated
//! ancestors included). Every message carries the global data version, so a client that
//! reconnects with the version it last applied gets exactly what it missed. Rooms carry the
//! presenter's control state (scene, focus, ministry, period) to every wall at once. A wall
//! may also follow how reports stand in their approval up the hierarchy (`reports`).
//! `PROTOCOL.md` at the root of the repository describes each message with an example.

use serde::{Deserialize, Serialize};

use crate::period::{Frequency, Period};

/// Version of this protocol; a server refuses clients that ask for another.
pub const PROTOCOL_VERSION: u32 = 1;

/// The most views a server takes on one connection unless configured otherwise: a wall's
/// layout must ask for no more.
pub const DEFAULT_MAX_VIEWS: usize = 64;

/// What a view covers: indicators × units × periods.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct View {
    /// Indicator codes, e.g. `["VM02", "VM03"]`.
    pub indicators: Vec<String>,
    /// Units by official code (`"VN"` for the nation).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub units: Vec<String>,
    /// Also every unit of `level` under this unit (a ranked bar of 34 provinces: `"VN"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub children_of: Option<String>,
    /// Level of those children: `province`, `district` or `commune`; the one below by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<String>,
    /// The periods shown.
    pub periods: Periods,
    /// Also send the periods the headline comparisons need: the same period last year and the
    /// year-to-date of both years (default true).
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub comparisons: bool,
    /// Structure date for unit codes (`dd/mm/yyyy` or `yyyy-mm-dd`); today by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// Periods of a view: a list, or a range of periods of one kind.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Periods {
    List(Vec<Period>),
    Range { from: Period, to: Period },
}

/// By hand rather than `untagged`: serde's untagged enums answer any problem with "data did not
/// match any variant", where a wall's technician needs to know which period is wrong and why.
impl<'de> Deserialize<'de> for Periods {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Periods;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a list of periods ([\"2025-07\"]) or a range ({\"from\": \"2025-01\", \
                     \"to\": \"2025-07\"})",
                )
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Periods, A::Error> {
                let mut list = Vec::new();
                while let Some(p) = seq.next_element()? {
                    list.push(p);
                }
                Ok(Periods::List(list))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Periods, A::Error> {
                let (mut from, mut to) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "from" => from = Some(map.next_value()?),
                        "to" => to = Some(map.next_value()?),
                        other => {
                            return Err(serde::de::Error::unknown_field(other, &["from", "to"]));
                        }
                    }
                }
                match (from, to) {
                    (Some(from), Some(to)) => Ok(Periods::Range { from, to }),
                    (None, _) => Err(serde::de::Error::missing_field("from")),
                    (_, None) => Err(serde::de::Error::missing_field("to")),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A presenter's choices for a room; absent fields are left as they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RoomState {
    /// Scene name from the wall's layout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scene: Option<String>,
    /// Unit code the walls focus on (drill-down by locality).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus_unit: Option<String>,
    /// Agency code the walls filter on (drill-down by ministry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
}

/// A `/live` URL with its token's value left out, to be printed or logged: an error message
/// must not hand the token to whoever reads the terminal or the log.
pub fn without_token(url: &str) -> String {
    match url.split_once("token=") {
        Some((head, tail)) => {
            let rest = tail.find('&').map_or("", |i| &tail[i..]);
            format!("{head}token=…{rest}")
        }
        None => url.to_owned(),
    }
}

/// A field of a room's state that a presenter can clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomField {
    Scene,
    FocusUnit,
    Agency,
    Period,
}

impl RoomState {
    /// Empties `fields`: the walls go back to what their layout shows (the whole country, every
    /// ministry, the latest period).
    pub fn clear(&mut self, fields: &[RoomField]) {
        for f in fields {
            match f {
                RoomField::Scene => self.scene = None,
                RoomField::FocusUnit => self.focus_unit = None,
                RoomField::Agency => self.agency = None,
                RoomField::Period => self.period = None,
            }
        }
    }

    /// Applies the fields `change` sets.
    pub fn merge(&mut self, change: &RoomState) {
        if change.scene.is_some() {
            self.scene.clone_from(&change.scene);
        }
        if change.focus_unit.is_some() {
            self.focus_unit.clone_from(&change.focus_unit);
        }
        if change.agency.is_some() {
            self.agency.clone_from(&change.agency);
        }
        if change.period.is_some() {
            self.period = change.period;
        }
    }
}

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// Starts (or, with `since`, resumes) a view under the client's own id.
    Subscribe {
        id: String,
        view: View,
        /// The data version the client last applied for this view: the server sends only what
        /// changed after it, or a snapshot if its journal no longer reaches back that far.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        since: Option<i64>,
    },
    Unsubscribe {
        id: String,
    },
    /// Follows a room's control state. A wall names its layout's scenes, so that a presenter
    /// can pick one by its title.
    Join {
        room: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        scenes: Vec<SceneInfo>,
    },
    /// Changes a room's control state (presenter tokens only): empties the fields in `clear`,
    /// then sets those `state` sets.
    Control {
        room: String,
        state: RoomState,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        clear: Vec<RoomField>,
    },
    /// Follows these reports' approval standing (replacing the list asked before; empty stops):
    /// the server answers with a `reports` message, and sends it again whenever one changes.
    Reports {
        reports: Vec<ReportKey>,
    },
}

/// The most reports one connection may follow (a longer list is refused with `bad_reports`).
pub const MAX_REPORTS: usize = 64;

/// One report: a regime's report of one period for one unit (its own values at the regime's
/// level, the total of the units under it above).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportKey {
    /// Regime code, e.g. `BC-HT`.
    pub regime: String,
    /// A period of the regime's frequency.
    pub period: Period,
    /// Unit code (`VN` for the nation).
    pub unit: String,
}

/// Where a report stands in its approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ReportState {
    /// No value of the report has come in.
    NotReported,
    /// Values are in; nobody has approved them.
    AwaitingApproval,
    /// Approved as it stands.
    Approved,
    /// Approved once, corrected since: to be approved again.
    ChangedSinceApproval,
}

impl ReportState {
    /// In Vietnamese, lower case: "chờ duyệt".
    pub fn label_vi(self) -> &'static str {
        match self {
            ReportState::NotReported => "chưa báo cáo",
            ReportState::AwaitingApproval => "chờ duyệt",
            ReportState::Approved => "đã duyệt",
            ReportState::ChangedSinceApproval => "có số liệu mới sau khi duyệt",
        }
    }
}

/// How one report stands: its own state, and how many of the units whose reports it adds up
/// (one level down toward the regime's level) have reported and are approved as they stand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportStanding {
    #[serde(flatten)]
    pub key: ReportKey,
    pub state: ReportState,
    /// Level of the units below (`province`, `district`, `commune`); absent for a report of
    /// the regime's own level, which adds up nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_level: Option<String>,
    #[serde(default)]
    pub below: u32,
    #[serde(default)]
    pub below_reported: u32,
    #[serde(default)]
    pub below_approved: u32,
    /// The units below approved as their reports stand, in the hierarchy's order, with when:
    /// a wall names who has just approved ("Cao Bằng đã duyệt"), at the time they did.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approved: Vec<Approved>,
    /// When the report's own approval was made, while it stands (`state` is `approved`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_at_ms: Option<i64>,
}

impl ReportStanding {
    /// Who changed from `before` to this standing: the units below approved now and not then
    /// (with when), and the codes of those approved then whose approval no longer stands (a
    /// correction left it behind).
    pub fn approvals_since<'a>(
        &'a self,
        before: &'a ReportStanding,
    ) -> (Vec<&'a Approved>, Vec<&'a str>) {
        let had = |s: &ReportStanding, unit: &str| s.approved.iter().any(|a| a.unit == unit);
        let gained = self
            .approved
            .iter()
            .filter(|a| !had(before, &a.unit))
            .collect();
        let lost = before
            .approved
            .iter()
            .filter(|a| !had(self, &a.unit))
            .map(|a| a.unit.as_str())
            .collect();
        (gained, lost)
    }
}

/// A unit whose report is approved as it stands: its official code, and when it was approved
/// (ms since 1970).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    pub unit: String,
    pub at_ms: i64,
}

/// A scene of a wall's layout: its id and the title its header shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SceneInfo {
    pub name: String,
    pub title: String,
}

/// One value: `v` is `null` when the value no longer exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    /// Indicator code.
    pub i: String,
    /// Unit code.
    pub u: String,
    pub p: Period,
    #[serde(serialize_with = "crate::number::tidy_json::opt")]
    pub v: Option<f64>,
    /// Reporting units behind the value and expected (absent for a value of one unit, and for
    /// a value no longer served).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub c: Option<[u32; 2]>,
}

/// A unit as a wall labels it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitInfo {
    pub code: String,
    pub name: String,
    pub level: String,
    /// Code of the unit above (absent for the nation), so a wall can find children.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
}

/// An indicator as a wall formats it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndicatorInfo {
    pub code: String,
    pub name: String,
    pub unit: String,
    pub decimals: u8,
    /// `true` when a rise is good news, `false` when a fall is; absent when neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub higher_is_better: Option<bool>,
    /// How often it is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency: Option<Frequency>,
    /// Owner agency's code (drill-down by ministry).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The plan the wall compares against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<TargetInfo>,
}

/// An indicator's plan: `kind` is `annual_total` (year-to-date against the year's total),
/// `growth` (% vs same period last year against a planned rate) or `level` (the value itself
/// against a planned level).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub kind: String,
    /// The plan by year. A list, not a map: messages are internally tagged, and serde cannot
    /// read integer map keys back through a tagged enum.
    pub values: Vec<PlanValue>,
}

/// One year's plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PlanValue {
    pub year: i32,
    pub value: f64,
}

impl TargetInfo {
    /// The plan for `year`.
    pub fn for_year(&self, year: i32) -> Option<f64> {
        self.values.iter().find(|v| v.year == year).map(|v| v.value)
    }
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message of a connection.
    Welcome {
        protocol: u32,
        version: i64,
        /// Server clock (ms since 1970, UTC), for scheduling control changes.
        server_time_ms: i64,
        /// The server pings this often; answer pongs (WebSocket clients do) or be closed.
        heartbeat_ms: u64,
    },
    /// Every cell of a view at `version`; replaces whatever the client held for `id`.
    Snapshot {
        id: String,
        version: i64,
        /// Why a snapshot and not deltas: `subscribe`, `too_old`, `lagged`, `large_change`.
        reason: String,
        indicators: Vec<IndicatorInfo>,
        units: Vec<UnitInfo>,
        periods: Vec<Period>,
        cells: Vec<Cell>,
    },
    /// Cells of a view changed by the versions after `from_version` up to `version` (several
    /// versions coalesce when a client is slow: the latest value of a cell wins).
    Delta {
        id: String,
        from_version: i64,
        version: i64,
        cells: Vec<Cell>,
    },
    /// A room's control state, to apply at `apply_at_ms` on every wall together.
    Control {
        room: String,
        version: i64,
        apply_at_ms: i64,
        state: RoomState,
    },
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
    },
    /// The standing of every report the client follows (in the order asked), at `version`.
    Reports {
        version: i64,
        reports: Vec<ReportStanding>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_read_as_a_list_or_a_range_and_a_bad_one_is_named() {
        let list: Periods = serde_json::from_str(r#"["2025-07", "Quý III/2025"]"#).unwrap();
        assert!(matches!(list, Periods::List(ref l) if l.len() == 2));
        let range: Periods =
            serde_json::from_str(r#"{"from": "2025-01", "to": "Tháng 7/2025"}"#).unwrap();
        assert!(matches!(range, Periods::Range { .. }));
        let e = serde_json::from_str::<Periods>(r#"["2025-07", "0001-01"]"#).unwrap_err();
        assert!(e.to_string().contains("\"0001-01\" is not a period"), "{e}");
        let e = serde_json::from_str::<Periods>(r#"{"from": "2025-01"}"#).unwrap_err();
        assert!(e.to_string().contains("missing field `to`"), "{e}");
        let e = serde_json::from_str::<Periods>(r#"{"from": "2025-01", "til": "x"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown field `til`"), "{e}");
        let e = serde_json::from_str::<Periods>("7").unwrap_err();
        assert!(e.to_string().contains("a list of periods"), "{e}");
    }

    #[test]
    fn messages_round_trip_as_tagged_json() {
        let sub = ClientMessage::Subscribe {
            id: "xk".into(),
            view: View {
                indicators: vec!["VM02".into()],
                units: vec![],
                children_of: Some("VN".into()),
                level: Some("province".into()),
                periods: Periods::Range {
                    from: Period::Month {
                        year: 2025,
                        month: 1,
                    },
                    to: Period::Month {
                        year: 2025,
                        month: 9,
                    },
                },
                comparisons: true,
                at: None,
            },
            since: Some(41),
        };
        let text = serde_json::to_string(&sub).unwrap();
        assert!(
            text.starts_with(r#"{"type":"subscribe","id":"xk""#),
            "{text}"
        );
        assert!(
            text.contains(r#""periods":{"from":"2025-01","to":"2025-09"}"#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<ClientMessage>(&text).unwrap(), sub);
        let list: View = serde_json::from_str(
            r#"{"indicators":["TT05"],"units":["79"],"periods":["Tháng 7/2025","2025-Q3"]}"#,
        )
        .unwrap();
        assert_eq!(
            list.periods,
            Periods::List(vec![
                Period::Month {
                    year: 2025,
                    month: 7
                },
                Period::Quarter {
                    year: 2025,
                    quarter: 3
                }
            ])
        );
        assert!(list.comparisons);
    }

    #[test]
    fn a_printed_url_keeps_its_token_secret() {
        assert_eq!(
            without_token("ws://h:8080/live?token=s3cret-value-123&x=1"),
            "ws://h:8080/live?token=…&x=1"
        );
        assert_eq!(without_token("ws://h:8080/live"), "ws://h:8080/live");
    }

    #[test]
    fn report_standings_round_trip_flat() {
        let ask: ClientMessage = serde_json::from_str(
            r#"{"type":"reports","reports":[{"regime":"BC-HT","period":"Tháng 10/2026","unit":"VN"}]}"#,
        )
        .unwrap();
        let key = ReportKey {
            regime: "BC-HT".into(),
            period: Period::Month {
                year: 2026,
                month: 10,
            },
            unit: "VN".into(),
        };
        assert_eq!(
            ask,
            ClientMessage::Reports {
                reports: vec![key.clone()]
            }
        );
        let m = ServerMessage::Reports {
            version: 7,
            reports: vec![ReportStanding {
                key,
                state: ReportState::AwaitingApproval,
                below_level: Some("province".into()),
                below: 34,
                below_reported: 33,
                below_approved: 2,
                approved: vec![
                    Approved {
                        unit: "04".into(),
                        at_ms: 1_795_420_800_123,
                    },
                    Approved {
                        unit: "08".into(),
                        at_ms: 1_795_420_900_000,
                    },
                ],
                approved_at_ms: None,
            }],
        };
        let text = serde_json::to_string(&m).unwrap();
        let list = r#","approved":[{"unit":"04","at_ms":1795420800123},{"unit":"08","at_ms":1795420900000}]"#;
        assert_eq!(
            text,
            format!(
                r#"{{"type":"reports","version":7,"reports":[{{"regime":"BC-HT","period":"2026-10","unit":"VN","state":"awaiting_approval","below_level":"province","below":34,"below_reported":33,"below_approved":2{list}}}]}}"#
            )
        );
        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), m);
        // A server from before the list: none approved by name.
        let old = text.replace(list, "");
        let ServerMessage::Reports { reports, .. } = serde_json::from_str(&old).unwrap() else {
            panic!("not a reports message");
        };
        assert!(reports[0].approved.is_empty());
    }

    #[test]
    fn room_changes_merge_only_what_they_set() {
        let mut s = RoomState {
            scene: Some("tong-quan".into()),
            focus_unit: Some("79".into()),
            ..RoomState::default()
        };
        s.merge(&RoomState {
            focus_unit: Some("01".into()),
            ..RoomState::default()
        });
        assert_eq!(s.scene.as_deref(), Some("tong-quan"));
        assert_eq!(s.focus_unit.as_deref(), Some("01"));
        s.clear(&[RoomField::FocusUnit]);
        assert_eq!(s.focus_unit, None, "back to the whole country");
        assert_eq!(s.scene.as_deref(), Some("tong-quan"));
        let m: ClientMessage = serde_json::from_str(
            r#"{"type":"control","room":"r","state":{},"clear":["focus_unit","agency"]}"#,
        )
        .unwrap();
        assert_eq!(
            m,
            ClientMessage::Control {
                room: "r".into(),
                state: RoomState::default(),
                clear: vec![RoomField::FocusUnit, RoomField::Agency],
            }
        );
    }
}
