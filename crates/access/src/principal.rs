//! Who is asking, and the one place that decides whether they may.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use crate::{Grant, Role};

/// How the principal proved who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Via {
    /// No accounts exist and the server listens on loopback only: whoever reaches it is the machine's
    /// own user, as with any local tool.
    Local,
    /// A login session (cookie). Writes must also carry the session's CSRF secret.
    Session {
        #[serde(skip)]
        id_hash: String,
        #[serde(skip)]
        csrf: String,
    },
    /// An API token (`Authorization: Bearer`).
    Token { id: String },
}

/// What a route needs of whoever calls it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Need {
    /// Anyone, signed in or not: liveness, the login itself, the console's static files, the basemap.
    Public,
    /// Any signed-in principal (viewer and up).
    Read,
    /// Editor and up.
    Write,
    /// Admin only.
    Admin,
}

impl Need {
    pub fn role(self) -> Option<Role> {
        match self {
            Self::Public => None,
            Self::Read => Some(Role::Viewer),
            Self::Write => Some(Role::Editor),
            Self::Admin => Some(Role::Admin),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub user: String,
    /// The role in force: the account's, capped by the token's scope.
    pub role: Role,
    /// `None`: every dataset. `Some`: only these.
    pub datasets: Option<BTreeMap<String, Grant>>,
    pub via: Via,
}

impl Principal {
    pub fn local() -> Self {
        Self {
            user: "local".into(),
            role: Role::Admin,
            datasets: None,
            via: Via::Local,
        }
    }

    /// How the audit log names this principal.
    pub fn actor(&self) -> String {
        match &self.via {
            Via::Local => "local".into(),
            Via::Session { .. } => format!("user:{}", self.user),
            Via::Token { id } => format!("token:{id} ({})", self.user),
        }
    }

    pub fn allows(&self, need: Need) -> bool {
        need.role().is_none_or(|role| self.role >= role)
    }

    pub fn can_read(&self, dataset: &str) -> bool {
        self.datasets
            .as_ref()
            .is_none_or(|grants| grants.contains_key(dataset))
    }

    pub fn can_write(&self, dataset: &str) -> bool {
        self.role >= Role::Editor
            && self
                .datasets
                .as_ref()
                .is_none_or(|grants| grants.get(dataset) == Some(&Grant::Write))
    }

    /// Whether every dataset is open to this principal (no per-dataset limits).
    pub fn sees_everything(&self) -> bool {
        self.datasets.is_none()
    }

    /// The datasets this principal may read, as the readers in `app` take it.
    pub fn scope(&self) -> Scope {
        match &self.datasets {
            None => Scope::everything(),
            Some(grants) => Scope::only(grants.keys().cloned()),
        }
    }
}

/// Which datasets a caller may read: every one, or only those named. Whoever reads data on a caller's
/// behalf asks this one value, whether the caller named a dataset, left a default to fill ("every sites
/// dataset"), or reached one indirectly (regions `by=areas:…`, an event on a stream): a hidden dataset is
/// answered as one that does not exist, and defaults cover only what the caller sees.
///
/// There is deliberately no `Default`: a reader that forgets to say whose scope it works in does not
/// compile, rather than silently seeing everything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    only: Option<Arc<BTreeSet<String>>>,
}

impl Scope {
    /// No limits: the local user, accounts without dataset grants, the command line and the console's own
    /// duties (rules, feeds), which act for the whole organisation.
    pub fn everything() -> Self {
        Self { only: None }
    }

    /// Only the datasets named.
    pub fn only(ids: impl IntoIterator<Item = String>) -> Self {
        Self {
            only: Some(Arc::new(ids.into_iter().collect())),
        }
    }

    pub fn sees(&self, dataset: &str) -> bool {
        self.only.as_ref().is_none_or(|ids| ids.contains(dataset))
    }

    pub fn sees_everything(&self) -> bool {
        self.only.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: Role, datasets: Option<&[(&str, Grant)]>) -> Principal {
        Principal {
            user: "ann".into(),
            role,
            datasets: datasets.map(|d| d.iter().map(|(k, g)| ((*k).to_string(), *g)).collect()),
            via: Via::Token { id: "t".into() },
        }
    }

    #[test]
    fn roles_include_the_ones_below() {
        for (role, allowed) in [
            (Role::Viewer, [true, true, false, false]),
            (Role::Editor, [true, true, true, false]),
            (Role::Admin, [true, true, true, true]),
        ] {
            let p = principal(role, None);
            let got = [Need::Public, Need::Read, Need::Write, Need::Admin].map(|n| p.allows(n));
            assert_eq!(got, allowed, "{role:?}");
        }
    }

    #[test]
    fn dataset_grants_limit_reads_and_writes() {
        let p = principal(
            Role::Editor,
            Some(&[("sites", Grant::Read), ("incidents", Grant::Write)]),
        );
        assert!(p.can_read("sites") && !p.can_write("sites"));
        assert!(p.can_read("incidents") && p.can_write("incidents"));
        assert!(!p.can_read("crime") && !p.can_write("crime"));
        let viewer = principal(Role::Viewer, Some(&[("incidents", Grant::Write)]));
        assert!(!viewer.can_write("incidents"), "a viewer never writes");
        assert!(principal(Role::Editor, None).can_write("anything"));
        assert_eq!(principal(Role::Viewer, None).actor(), "token:t (ann)");
    }

    #[test]
    fn a_scope_sees_what_the_grants_name_and_nothing_else() {
        let limited = principal(Role::Viewer, Some(&[("sites", Grant::Read)])).scope();
        assert!(limited.sees("sites") && !limited.sees("secret_areas") && !limited.sees(""));
        assert!(!limited.sees_everything());
        let open = principal(Role::Viewer, None).scope();
        assert!(open.sees("anything") && open.sees_everything());
        assert!(!principal(Role::Admin, Some(&[])).scope().sees("sites"));
    }
}
