//! `geoconsole users | tokens | audit`: accounts, API tokens and the audit log from the command line, on
//! the same store a serving console uses (changes take effect on its next request). Every change made here
//! is written to the audit log as `cli:<login name>`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};

use anyhow::{Context, Result, anyhow, bail};
use chrono::{DateTime, Duration, Utc};
use geoconsole_access::{AuditEntry, AuditFilter, Grant, Role, TokenRequest};
use geoconsole_app::Console;
use serde_json::{Value, json};

use crate::args::{AuditArgs, Cli, TokensCommand, UsersCommand};
use crate::output;

fn role(text: &str) -> Result<Role> {
    Role::parse(text).ok_or_else(|| anyhow!("role '{text}' is not one of: viewer, editor, admin"))
}

fn scope(text: &str) -> Result<Role> {
    Role::parse_scope(text)
        .ok_or_else(|| anyhow!("--scope '{text}' is not one of: read, write, admin"))
}

/// The password from stdin's first line, or asked for twice on the terminal without echo.
fn password(from_stdin: bool, name: &str) -> Result<String> {
    if from_stdin || !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = rpassword::prompt_password(format!("Password for {name}: "))?;
    let again = rpassword::prompt_password("Again: ")?;
    if first != again {
        bail!("the two passwords differ; nothing was changed");
    }
    Ok(first)
}

pub fn actor() -> String {
    let who = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{who}")
}

async fn record(console: &Console, action: &str, target: &str, detail: Value) -> Result<()> {
    console
        .accounts()
        .audit(AuditEntry {
            at: Utc::now(),
            actor: actor(),
            action: action.into(),
            target: target.into(),
            outcome: "ok".into(),
            source: "cli".into(),
            detail,
        })
        .await;
    Ok(())
}

fn limits(datasets: &Option<BTreeMap<String, Grant>>) -> String {
    match datasets {
        None => "all datasets".into(),
        Some(map) if map.is_empty() => "no datasets".into(),
        Some(map) => map
            .iter()
            .map(|(id, g)| format!("{id}:{}", if *g == Grant::Write { "write" } else { "read" }))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

pub async fn users(console: &Console, command: &UsersCommand, cli: &Cli) -> Result<()> {
    let accounts = console.accounts();
    match command {
        UsersCommand::Add {
            name,
            role: given,
            password_stdin,
        } => {
            let role = role(given)?;
            let password = password(*password_stdin, name)?;
            let user = accounts.add_user(name, role, &password).await?;
            record(console, "users.add", name, json!({"role": role})).await?;
            eprintln!("added {} ({})", user.name, user.role.as_str());
        }
        UsersCommand::List => {
            let users = accounts.users().await?;
            if cli.json {
                let list: Vec<Value> = users
                    .iter()
                    .map(|u| json!({"name": u.name, "role": u.role, "disabled": u.disabled, "datasets": u.datasets, "created": u.created}))
                    .collect();
                return output::print_json(&list);
            }
            let rows: Vec<Vec<String>> = users
                .iter()
                .map(|u| {
                    vec![
                        u.name.clone(),
                        u.role.as_str().into(),
                        if u.disabled { "disabled" } else { "enabled" }.into(),
                        limits(&u.datasets),
                        u.created.format("%Y-%m-%d").to_string(),
                    ]
                })
                .collect();
            if rows.is_empty() {
                eprintln!(
                    "no accounts: the console serves its local user on 127.0.0.1 only; add an admin with 'geoconsole users add NAME --role admin'"
                );
            }
            output::print_table(&["NAME", "ROLE", "STATE", "DATASETS", "CREATED"], &rows);
        }
        UsersCommand::SetRole { name, role: given } => {
            let role = role(given)?;
            accounts.set_role(name, role).await?;
            record(console, "users.set-role", name, json!({"role": role})).await?;
            eprintln!("{name} is now {}", role.as_str());
        }
        UsersCommand::Disable { name } => {
            accounts.set_disabled(name, true).await?;
            record(console, "users.disable", name, json!({})).await?;
            eprintln!("{name} is disabled; its sessions ended and its tokens stopped working");
        }
        UsersCommand::Enable { name } => {
            accounts.set_disabled(name, false).await?;
            record(console, "users.enable", name, json!({})).await?;
            eprintln!("{name} is enabled");
        }
        UsersCommand::Passwd {
            name,
            password_stdin,
        } => {
            let password = password(*password_stdin, name)?;
            accounts.set_password(name, &password).await?;
            record(console, "users.passwd", name, json!({})).await?;
            eprintln!("{name}'s password is changed; its sessions ended");
        }
        UsersCommand::Grant {
            name,
            read,
            write,
            all,
        } => {
            let datasets = if *all {
                None
            } else {
                let mut map = BTreeMap::new();
                for id in read {
                    map.insert(id.clone(), Grant::Read);
                }
                for id in write {
                    map.insert(id.clone(), Grant::Write);
                }
                Some(map)
            };
            let user = accounts.set_datasets(name, datasets).await?;
            record(
                console,
                "users.grant",
                name,
                json!({"datasets": user.datasets}),
            )
            .await?;
            eprintln!("{name}: {}", limits(&user.datasets));
        }
    }
    Ok(())
}

pub async fn tokens(console: &Console, command: &TokensCommand, cli: &Cli) -> Result<()> {
    let accounts = console.accounts();
    match command {
        TokensCommand::Create {
            user,
            scope: given,
            label,
            datasets,
            expires_days,
        } => {
            if !(1..=366).contains(expires_days) {
                bail!("--expires-days must be between 1 and 366");
            }
            let made = accounts
                .create_token(TokenRequest {
                    user: user.clone(),
                    label: label.clone(),
                    scope: scope(given)?,
                    datasets: (!datasets.is_empty()).then(|| datasets.clone()),
                    expires: Some(Utc::now() + Duration::days(i64::from(*expires_days))),
                })
                .await?;
            record(
                console,
                "tokens.create",
                &made.record.id,
                json!({"user": user, "scope": given, "datasets": made.record.datasets}),
            )
            .await?;
            if cli.json {
                return output::print_json(
                    &json!({"id": made.record.id, "token": made.secret, "expires": made.record.expires}),
                );
            }
            eprintln!(
                "token {} for {user} ({given}), expires {}. Copy it now; it is not shown again:",
                made.record.id,
                made.record
                    .expires
                    .map_or_else(|| "never".into(), |e| e.format("%Y-%m-%d").to_string())
            );
            outln!("{}", made.secret);
        }
        TokensCommand::List { user } => {
            let tokens = accounts.tokens(user.as_deref()).await?;
            let now = Utc::now();
            let state = |t: &geoconsole_access::TokenRecord| {
                if t.revoked.is_some() {
                    "revoked"
                } else if t.expires.is_some_and(|e| now >= e) {
                    "expired"
                } else {
                    "active"
                }
            };
            if cli.json {
                let list: Vec<Value> = tokens
                    .iter()
                    .map(|t| json!({"id": t.id, "user": t.user, "label": t.label, "scope": t.scope.scope(), "datasets": t.datasets, "created": t.created, "expires": t.expires, "last_used": t.last_used, "state": state(t)}))
                    .collect();
                return output::print_json(&list);
            }
            let day = |t: Option<DateTime<Utc>>| {
                t.map_or_else(|| "-".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
            };
            let rows: Vec<Vec<String>> = tokens
                .iter()
                .map(|t| {
                    vec![
                        t.id.clone(),
                        t.user.clone(),
                        t.label.clone(),
                        t.scope.scope().into(),
                        state(t).into(),
                        day(t.expires),
                        day(t.last_used),
                    ]
                })
                .collect();
            output::print_table(
                &[
                    "ID",
                    "USER",
                    "LABEL",
                    "SCOPE",
                    "STATE",
                    "EXPIRES",
                    "LAST USED",
                ],
                &rows,
            );
        }
        TokensCommand::Revoke { id } => {
            let token = accounts.revoke_token(id).await?;
            record(console, "tokens.revoke", id, json!({"user": token.user})).await?;
            eprintln!("token {id} of {} is revoked", token.user);
        }
    }
    Ok(())
}

/// `30m`, `12h`, `7d` back from now, or an RFC 3339 time.
fn since(text: &str) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| {
        anyhow!("--since '{text}' is neither an RFC 3339 time nor a duration like 30m, 12h or 7d")
    })?;
    let back = match unit {
        "m" => Duration::minutes(n),
        "h" => Duration::hours(n),
        "d" => Duration::days(n),
        _ => bail!("--since '{text}': the unit must be m, h or d"),
    };
    Ok(Utc::now() - back)
}

pub async fn audit(console: &Console, args: &AuditArgs, cli: &Cli) -> Result<()> {
    let entries = console
        .accounts()
        .audit_log(AuditFilter {
            actor: args.actor.clone(),
            action: args.action.clone(),
            target: args.target.clone(),
            since: args.since.as_deref().map(since).transpose()?,
            until: None,
            before: None,
            limit: args.limit.clamp(1, 10_000),
        })
        .await?;
    if cli.json {
        return output::print_json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|r| {
            let e = &r.entry;
            vec![
                r.seq.to_string(),
                e.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                e.actor.clone(),
                e.action.clone(),
                e.target.clone(),
                e.outcome.clone(),
                e.source.clone(),
            ]
        })
        .collect();
    output::print_table(
        &[
            "SEQ", "AT (UTC)", "ACTOR", "ACTION", "TARGET", "OUTCOME", "FROM",
        ],
        &rows,
    );
    Ok(())
}
