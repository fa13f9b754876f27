//! The accounts service: everything that creates, checks or ends a credential, over an
//! [`AccessStore`]. Each check reads the account afresh, so disabling it or lowering its role takes effect
//! on its very next request, on every console instance sharing the store.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use geoconsole_store::access::{
    AccessStore, AuditEntry, AuditFilter, AuditRecord, Grant, Role, SessionRecord, TokenRecord,
    UserRecord,
};

use crate::password;
use crate::principal::{Principal, Via};
use crate::secret::{digest, random_text, same};
use crate::throttle::{Throttle, ThrottleLimits};
use crate::{AccessError, AccessErrorKind, AccessResult};

/// API tokens look like `gct_<id>_<secret>`: the id finds the row, the secret is checked against its digest.
const TOKEN_PREFIX: &str = "gct_";
/// A session or token is marked used at most this often, so reading does not turn into a write per request.
const TOUCH_EVERY: Duration = Duration::seconds(60);
/// How long "no accounts" is believed before the store is asked again.
const ASK_AGAIN: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a login lasts (ASVS 3.3.2 at L2: 30 minutes idle, 12 hours at most).
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// What a successful login hands back: the cookie's value (never stored) and the CSRF secret.
#[derive(Debug, Clone)]
pub struct LoginOutcome {
    pub session: String,
    pub csrf: String,
    pub expires: DateTime<Utc>,
    pub principal: Principal,
}

#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub user: String,
    pub label: String,
    pub scope: Role,
    pub datasets: Option<Vec<String>>,
    pub expires: Option<DateTime<Utc>>,
}

/// A token just made: the only time its secret exists outside the caller.
#[derive(Debug, Clone)]
pub struct NewToken {
    pub record: TokenRecord,
    pub secret: String,
}

#[derive(Debug)]
pub struct Accounts {
    store: Arc<dyn AccessStore>,
    throttle: Throttle,
    sessions: SessionPolicy,
    /// Accounts exist. Once true it stays true (accounts are disabled, never deleted), so a console that has
    /// accounts never asks the store again.
    known: AtomicBool,
    /// When the store last said there were none: asked again at most once a second, so a console serving
    /// its local user does not read the store on every request, and an account added from the command
    /// line takes effect within a second.
    none_at: Mutex<Option<Instant>>,
}

fn check_name(name: &str) -> AccessResult<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(AccessError::invalid(format!(
            "'{name}' is not a valid account name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )))
    }
}

async fn hash_blocking(password: String) -> AccessResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&password))
        .await
        .map_err(|e| AccessError::new(AccessErrorKind::Store, format!("hashing failed: {e}")))?
}

impl Accounts {
    pub fn new(store: Arc<dyn AccessStore>) -> Self {
        Self::with_limits(store, ThrottleLimits::default(), SessionPolicy::default())
    }

    pub fn with_limits(
        store: Arc<dyn AccessStore>,
        throttle: ThrottleLimits,
        sessions: SessionPolicy,
    ) -> Self {
        Self {
            store,
            throttle: Throttle::new(throttle),
            sessions,
            known: AtomicBool::new(false),
            none_at: Mutex::new(None),
        }
    }

    pub fn session_policy(&self) -> SessionPolicy {
        self.sessions
    }

    /// Whether any account exists. Without one, a console bound to loopback serves its local user only.
    pub async fn any_accounts(&self) -> AccessResult<bool> {
        if self.known.load(Ordering::Acquire) {
            return Ok(true);
        }
        let recent = self
            .none_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < ASK_AGAIN);
        if recent {
            return Ok(false);
        }
        let any = !self.store.users().await?.is_empty();
        if any {
            self.known.store(true, Ordering::Release);
        } else {
            *self
                .none_at
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        }
        Ok(any)
    }

    pub async fn users(&self) -> AccessResult<Vec<UserRecord>> {
        Ok(self.store.users().await?)
    }

    pub async fn user(&self, name: &str) -> AccessResult<UserRecord> {
        Ok(self.store.user(name).await?)
    }

    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &str,
    ) -> AccessResult<UserRecord> {
        check_name(name)?;
        password::check_strength(password, name)?;
        match self.store.user(name).await {
            Ok(_) => {
                return Err(AccessError::invalid(format!(
                    "an account named '{name}' already exists"
                )));
            }
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        let now = Utc::now();
        let user = UserRecord {
            name: name.to_string(),
            role,
            password_hash: hash_blocking(password.to_string()).await?,
            disabled: false,
            datasets: None,
            created: now,
            updated: now,
        };
        self.store.put_user(user.clone()).await?;
        self.known.store(true, Ordering::Release);
        Ok(user)
    }

    async fn change(
        &self,
        name: &str,
        edit: impl FnOnce(&mut UserRecord),
    ) -> AccessResult<UserRecord> {
        let mut user = self.store.user(name).await?;
        edit(&mut user);
        user.updated = Utc::now();
        self.store.put_user(user.clone()).await?;
        Ok(user)
    }

    /// Refuses a change that would leave no enabled admin: nobody could administer the console any more.
    async fn keep_an_admin(&self, name: &str, role: Role, disabled: bool) -> AccessResult<()> {
        if role == Role::Admin && !disabled {
            return Ok(());
        }
        let users = self.store.users().await?;
        let others = users
            .iter()
            .any(|u| u.name != name && u.role == Role::Admin && !u.disabled);
        let is_admin = users
            .iter()
            .any(|u| u.name == name && u.role == Role::Admin && !u.disabled);
        if is_admin && !others {
            return Err(AccessError::invalid(format!(
                "'{name}' is the only enabled admin; make another admin first"
            )));
        }
        Ok(())
    }

    pub async fn set_role(&self, name: &str, role: Role) -> AccessResult<UserRecord> {
        let current = self.store.user(name).await?;
        self.keep_an_admin(name, role, current.disabled).await?;
        self.change(name, |u| u.role = role).await
    }

    /// Disabling ends the account's sessions at once; its tokens stop working with it.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> AccessResult<UserRecord> {
        let current = self.store.user(name).await?;
        self.keep_an_admin(name, current.role, disabled).await?;
        let user = self.change(name, |u| u.disabled = disabled).await?;
        if disabled {
            self.store.delete_sessions_of(name).await?;
        }
        Ok(user)
    }

    /// A new password ends every session of the account (ASVS 3.3.3).
    pub async fn set_password(&self, name: &str, password: &str) -> AccessResult<UserRecord> {
        password::check_strength(password, name)?;
        let hash = hash_blocking(password.to_string()).await?;
        let user = self.change(name, |u| u.password_hash = hash).await?;
        self.store.delete_sessions_of(name).await?;
        Ok(user)
    }

    /// Limits an account to named datasets (`None` lifts the limit).
    pub async fn set_datasets(
        &self,
        name: &str,
        datasets: Option<BTreeMap<String, Grant>>,
    ) -> AccessResult<UserRecord> {
        self.change(name, |u| u.datasets = datasets).await
    }

    pub async fn create_token(&self, request: TokenRequest) -> AccessResult<NewToken> {
        let user = self.store.user(&request.user).await?;
        if request.scope > user.role {
            return Err(AccessError::invalid(format!(
                "a token cannot do more than its account: '{}' is {}, the token asks for {}",
                user.name,
                user.role.as_str(),
                request.scope.as_str()
            )));
        }
        // A limited account's token names only datasets the account may use: one naming others would be
        // harmless today (the account's limit still applies) but would read them the day the limit is lifted.
        if let (Some(granted), Some(asked)) = (&user.datasets, &request.datasets)
            && let Some(other) = asked.iter().find(|d| !granted.contains_key(*d))
        {
            return Err(AccessError::invalid(format!(
                "'{}' may use only {}; a token of theirs cannot name '{other}'",
                user.name,
                granted.keys().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        if request.expires.is_some_and(|e| e <= Utc::now()) {
            return Err(AccessError::invalid("the token's expiry is in the past"));
        }
        if request.label.chars().count() > 200 {
            return Err(AccessError::invalid(
                "a token's label may have at most 200 characters",
            ));
        }
        let id = random_text::<8>();
        let secret = random_text::<32>();
        let record = TokenRecord {
            id: id.clone(),
            user: user.name,
            label: request.label,
            secret_hash: digest(&secret),
            scope: request.scope,
            datasets: request.datasets,
            created: Utc::now(),
            expires: request.expires,
            revoked: None,
            last_used: None,
        };
        self.store.put_token(record.clone()).await?;
        Ok(NewToken {
            record,
            secret: format!("{TOKEN_PREFIX}{id}_{secret}"),
        })
    }

    pub async fn tokens(&self, user: Option<&str>) -> AccessResult<Vec<TokenRecord>> {
        Ok(self.store.tokens(user).await?)
    }

    pub async fn token(&self, id: &str) -> AccessResult<TokenRecord> {
        Ok(self.store.token(id).await?)
    }

    pub async fn revoke_token(&self, id: &str) -> AccessResult<TokenRecord> {
        let mut token = self.store.token(id).await?;
        if token.revoked.is_none() {
            token.revoked = Some(Utc::now());
            self.store.put_token(token.clone()).await?;
        }
        Ok(token)
    }

    /// Checks a name and password and opens a new session. Every refusal says the same thing and takes
    /// about as long, whether the name exists or not.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> AccessResult<LoginOutcome> {
        if let Some(secs) = self.throttle.wait(name, address) {
            return Err(AccessError::new(
                AccessErrorKind::Throttled,
                format!("too many failed logins; try again in {secs} s"),
            ));
        }
        let user = match self.store.user(name).await {
            Ok(user) => Some(user),
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => None,
            Err(e) => return Err(e.into()),
        };
        let stored = user.as_ref().map_or_else(
            || password::decoy().to_string(),
            |u| u.password_hash.clone(),
        );
        let given = password.to_string();
        let matches = tokio::task::spawn_blocking(move || password::verify(&stored, &given))
            .await
            .unwrap_or(false);
        let user = match user {
            Some(user) if matches && !user.disabled => user,
            _ => {
                self.throttle.failed(name, address);
                return Err(AccessError::unauthenticated(
                    "wrong account name or password",
                ));
            }
        };
        self.throttle.succeeded(name);
        let session = random_text::<32>();
        let csrf = random_text::<32>();
        let now = Utc::now();
        let expires = now + self.sessions.absolute;
        self.store
            .put_session(SessionRecord {
                id_hash: digest(&session),
                user: user.name.clone(),
                csrf: csrf.clone(),
                created: now,
                last_seen: now,
                expires,
            })
            .await?;
        let principal = Principal {
            user: user.name,
            role: user.role,
            datasets: user.datasets,
            via: Via::Session {
                id_hash: digest(&session),
                csrf: csrf.clone(),
            },
        };
        Ok(LoginOutcome {
            session,
            csrf,
            expires,
            principal,
        })
    }

    /// Ends the session whose cookie this is (server-side: the cookie is worthless afterwards).
    pub async fn logout(&self, session: &str) -> AccessResult<()> {
        Ok(self.store.delete_session(&digest(session)).await?)
    }

    async fn enabled_user(&self, name: &str) -> AccessResult<UserRecord> {
        match self.store.user(name).await {
            Ok(user) if !user.disabled => Ok(user),
            Ok(_) => Err(AccessError::unauthenticated("this account is disabled")),
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => Err(
                AccessError::unauthenticated("this account no longer exists"),
            ),
            Err(e) => Err(e.into()),
        }
    }

    /// The principal of a session cookie, if the session is live.
    pub async fn session(&self, cookie: &str) -> AccessResult<Principal> {
        let id_hash = digest(cookie);
        let expired = || AccessError::unauthenticated("the session has ended; log in again");
        let mut session = match self.store.session(&id_hash).await {
            Ok(s) => s,
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => {
                return Err(expired());
            }
            Err(e) => return Err(e.into()),
        };
        let now = Utc::now();
        if now >= session.expires || now - session.last_seen >= self.sessions.idle {
            self.store.delete_session(&id_hash).await?;
            return Err(expired());
        }
        let user = self.enabled_user(&session.user).await?;
        if now - session.last_seen >= TOUCH_EVERY {
            session.last_seen = now;
            self.store.put_session(session.clone()).await?;
        }
        Ok(Principal {
            user: user.name,
            role: user.role,
            datasets: user.datasets,
            via: Via::Session {
                id_hash,
                csrf: session.csrf,
            },
        })
    }

    /// The principal of an API token, if the token is live: its account's role capped by its scope, and
    /// the datasets both allow.
    pub async fn bearer(&self, token: &str) -> AccessResult<Principal> {
        let invalid = || AccessError::unauthenticated("the API token is not valid");
        let (id, secret) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('_'))
            .ok_or_else(invalid)?;
        let mut record = match self.store.token(id).await {
            Ok(r) => r,
            Err(e) if e.kind() == geoconsole_store::StoreErrorKind::NotFound => {
                return Err(invalid());
            }
            Err(e) => return Err(e.into()),
        };
        if !same(&record.secret_hash, &digest(secret)) {
            return Err(invalid());
        }
        let now = Utc::now();
        if record.revoked.is_some() {
            return Err(AccessError::unauthenticated("the API token was revoked"));
        }
        if record.expires.is_some_and(|e| now >= e) {
            return Err(AccessError::unauthenticated("the API token has expired"));
        }
        let user = self.enabled_user(&record.user).await?;
        let role = user.role.min(record.scope);
        let datasets = match (&user.datasets, &record.datasets) {
            (None, None) => None,
            (Some(granted), None) => Some(granted.clone()),
            (granted, Some(named)) => Some(
                named
                    .iter()
                    .filter_map(|d| match granted {
                        None => Some((d.clone(), Grant::Write)),
                        Some(g) => g.get(d).map(|grant| (d.clone(), *grant)),
                    })
                    .collect(),
            ),
        };
        if record.last_used.is_none_or(|t| now - t >= TOUCH_EVERY) {
            record.last_used = Some(now);
            self.store.put_token(record.clone()).await?;
        }
        Ok(Principal {
            user: user.name,
            role,
            datasets,
            via: Via::Token { id: record.id },
        })
    }

    /// Appends to the audit log. A failure is logged, not raised: the action it records has happened.
    pub async fn audit(&self, entry: AuditEntry) {
        let entry = crate::audit::bounded(entry);
        let action = entry.action.clone();
        if let Err(e) = self.store.append_audit(entry).await {
            tracing::error!(error = %e, action, "could not write the audit log");
        }
    }

    pub async fn audit_log(&self, filter: AuditFilter) -> AccessResult<Vec<AuditRecord>> {
        Ok(self.store.audit(filter).await?)
    }
}
