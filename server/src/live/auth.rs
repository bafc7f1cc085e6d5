//! Who may open `/live` and send reports to `POST /api/uploads`: a token (query `?token=` or
//! `Authorization: Bearer`) naming a role, and, for browsers, an `Origin` from the allowed list.
//! Both are checked on the request; a refused client gets a JSON body saying why. Tokens live in
//! a TOML file a technician edits:
//!
//! ```toml
//! allowed_origins = ["https://tuong.dieuhanh.gov.vn"]
//!
//! [[token]]
//! name = "tuong-phong-hop-1"
//! value = "…long random string…"
//! role = "wall"          # wall: subscribe and follow rooms; presenter: also control rooms
//!
//! [[token]]
//! name = "so-tai-chinh-hcm"
//! value = "…"
//! role = "reporter"      # reporter: upload reports (and follow views, as a wall)
//! unit = "79"            # only for this unit and the units under it (all when absent)
//! agencies = ["BTC"]     # only these ministries' indicators (all when absent)
//!
//! [[token]]
//! name = "ubnd-hcm-duyet"
//! value = "…"
//! role = "approver"      # approver: approve reports and send them up (POST /api/approvals)
//! unit = "79"            # limits as a reporter's: this unit's reports and those under it
//! ```
//!
//! Without a file the push and uploads are open to anyone on the network (a warning is logged):
//! fine on a desk, not in an operations centre.

use std::collections::HashMap;
use std::path::Path;

use axum::Json;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// What a token allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Subscribe to views and follow rooms.
    Wall,
    /// Also change a room's control state.
    Presenter,
    /// Upload reports within the token's unit and ministries; follow views as a wall does.
    Reporter,
    /// Approve reports within the token's unit and ministries and send them up; follow views
    /// as a wall does.
    Approver,
}

impl Role {
    /// As written in the auth file and in refusals.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Wall => "wall",
            Role::Presenter => "presenter",
            Role::Reporter => "reporter",
            Role::Approver => "approver",
        }
    }
}

/// What one token allows, and whose it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The token's name in the file (provenance of uploads, logs).
    pub name: String,
    pub role: Role,
    /// A reporter's or approver's unit (2025 code): it reports for (approves) this unit and
    /// the units under it, its predecessors of the 2024 structure included. Everywhere when
    /// absent.
    pub unit: Option<String>,
    /// A reporter's or approver's ministries (codes): only their indicators (regimes). All
    /// when empty.
    pub agencies: Vec<String>,
}

impl Grant {
    /// A token of `role` with no limits of unit or ministry.
    pub fn new(name: &str, role: Role) -> Grant {
        Grant {
            name: name.to_owned(),
            role,
            unit: None,
            agencies: Vec::new(),
        }
    }
}

/// Why the auth file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read {path}: {message}")]
    Read { path: String, message: String },
    #[error("{path} is not valid: {message}; see the format in the server's documentation")]
    Parse { path: String, message: String },
}

#[derive(Debug, Deserialize)]
struct File {
    #[serde(default)]
    allowed_origins: Vec<String>,
    #[serde(default)]
    token: Vec<TokenEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenEntry {
    name: String,
    value: String,
    role: Role,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    agencies: Vec<String>,
}

/// The configured tokens and origins.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// No tokens configured: everyone is a presenter.
    open: bool,
    tokens: HashMap<String, Grant>,
    origins: Vec<String>,
}

/// A refusal, answered before the upgrade.
#[derive(Debug)]
pub struct Rejection {
    pub status: StatusCode,
    pub message: String,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": {"status": self.status.as_u16(), "message": self.message}
        });
        (self.status, Json(body)).into_response()
    }
}

/// Tokens shorter than this are refused in the file: they would be guessable.
const MIN_TOKEN_LEN: usize = 16;

impl Auth {
    /// No tokens: anyone may connect (origins are still checked when given).
    pub fn open() -> Auth {
        Auth {
            open: true,
            ..Auth::default()
        }
    }

    /// Tokens and origins given directly (tests, embedding).
    pub fn with(tokens: &[(&str, &str, Role)], origins: &[&str]) -> Auth {
        Auth {
            open: false,
            tokens: tokens
                .iter()
                .map(|(name, value, role)| ((*value).to_owned(), Grant::new(name, *role)))
                .collect(),
            origins: origins.iter().map(|o| (*o).to_owned()).collect(),
        }
    }

    /// Adds (or replaces) the token `value` with `grant`.
    pub fn grant(mut self, value: &str, grant: Grant) -> Auth {
        self.open = false;
        self.tokens.insert(value.to_owned(), grant);
        self
    }

    /// Every token's grant, for checking the file against the catalogue and the units.
    pub fn grants(&self) -> impl Iterator<Item = &Grant> {
        self.tokens.values()
    }

    /// Reads the TOML file.
    pub fn load(path: &Path) -> Result<Auth, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|e| AuthError::Read {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let f: File = toml::from_str(&text).map_err(|e| AuthError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        let mut tokens = HashMap::new();
        for t in f.token {
            if t.value.len() < MIN_TOKEN_LEN {
                return Err(AuthError::Parse {
                    path: path.display().to_string(),
                    message: format!(
                        "token {:?} is shorter than {MIN_TOKEN_LEN} characters",
                        t.name
                    ),
                });
            }
            let limited = matches!(t.role, Role::Reporter | Role::Approver);
            if !limited && (t.unit.is_some() || !t.agencies.is_empty()) {
                return Err(AuthError::Parse {
                    path: path.display().to_string(),
                    message: format!(
                        "token {:?}: unit and agencies limit a reporter's uploads or an \
                         approver's approvals; a {} token has none",
                        t.name,
                        t.role.as_str()
                    ),
                });
            }
            tokens.insert(
                t.value,
                Grant {
                    name: t.name,
                    role: t.role,
                    unit: t.unit,
                    agencies: t.agencies,
                },
            );
        }
        Ok(Auth {
            open: false,
            tokens,
            origins: f.allowed_origins,
        })
    }

    pub fn is_open(&self) -> bool {
        self.open
    }

    /// Checks a request's origin and token. Requests without `Origin` come from native clients
    /// (walls, the `watch` command, systems uploading); with one, it must be allowed. Open: a
    /// presenter without limits.
    pub fn check(
        &self,
        headers: &HeaderMap,
        query_token: Option<&str>,
    ) -> Result<Grant, Rejection> {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("");
            if !self.origins.iter().any(|o| o == origin) {
                return Err(Rejection {
                    status: StatusCode::FORBIDDEN,
                    message: format!(
                        "origin {origin:?} is not allowed; add it to allowed_origins in the \
                         server's auth file"
                    ),
                });
            }
        }
        if self.open {
            return Ok(Grant::new("open", Role::Presenter));
        }
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = query_token.or(bearer) else {
            return Err(Rejection {
                status: StatusCode::UNAUTHORIZED,
                message: "a token is required: add ?token=… (as /live?token=…) or send \
                          Authorization: Bearer …"
                    .into(),
            });
        };
        match self.tokens.get(token) {
            Some(grant) => {
                tracing::debug!(token = %grant.name, role = ?grant.role, "token accepted");
                Ok(grant.clone())
            }
            None => Err(Rejection {
                status: StatusCode::UNAUTHORIZED,
                message: "the token is not valid; ask the technician for yours".into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_origins_are_checked() {
        let auth = Auth::with(
            &[("p", "presenter-token-123456", Role::Presenter)],
            &["https://a.vn"],
        );
        let mut h = HeaderMap::new();
        assert_eq!(
            auth.check(&h, None).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            auth.check(&h, Some("nope")).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            auth.check(&h, Some("presenter-token-123456")).unwrap().role,
            Role::Presenter
        );
        h.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        let err = auth.check(&h, Some("presenter-token-123456")).unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(err.message.contains("evil.example"));
        h.insert(header::ORIGIN, "https://a.vn".parse().unwrap());
        h.insert(
            header::AUTHORIZATION,
            "Bearer presenter-token-123456".parse().unwrap(),
        );
        assert!(auth.check(&h, None).is_ok());
    }

    #[test]
    fn short_tokens_are_refused_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.toml");
        std::fs::write(
            &p,
            "[[token]]\nname = \"x\"\nvalue = \"short\"\nrole = \"wall\"\n",
        )
        .unwrap();
        assert!(Auth::load(&p).unwrap_err().to_string().contains("shorter"));
    }

    #[test]
    fn a_reporter_token_carries_its_unit_and_ministries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("auth.toml");
        std::fs::write(
            &p,
            "[[token]]\nname = \"so-tc-hcm\"\nvalue = \"reporter-token-123456\"\n\
             role = \"reporter\"\nunit = \"79\"\nagencies = [\"BTC\"]\n",
        )
        .unwrap();
        let auth = Auth::load(&p).unwrap();
        let g = auth
            .check(&HeaderMap::new(), Some("reporter-token-123456"))
            .unwrap();
        assert_eq!(g.role, Role::Reporter);
        assert_eq!(g.unit.as_deref(), Some("79"));
        assert_eq!(g.agencies, vec!["BTC".to_owned()]);
        // Limits on a wall's token are a mistake in the file, said at start.
        std::fs::write(
            &p,
            "[[token]]\nname = \"w\"\nvalue = \"wall-token-12345678\"\nrole = \"wall\"\n\
             unit = \"79\"\n",
        )
        .unwrap();
        assert!(
            Auth::load(&p)
                .unwrap_err()
                .to_string()
                .contains("limit a reporter's uploads or an approver's approvals")
        );
    }
}
