//! The people who may sign in to a shared `finelab serve` of the project, and their roles.
//! Passwords are hashed by the caller (finelab-app, argon2): the store keeps the PHC string only.

use crate::{Error, Result, Store};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};

/// What a signed-in person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Labels the records served to them; sees their own labels.
    Annotator,
    /// Also reviews: adjudicates disagreements, reads agreement, suspects and results.
    Reviewer,
    /// Everything: imports, trains, exports, manages users and settings, names server paths.
    Admin,
}

impl Role {
    /// The name used on the command line and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Annotator => "annotator",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

impl std::str::FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Role> {
        match s {
            "annotator" => Ok(Role::Annotator),
            "reviewer" => Ok(Role::Reviewer),
            "admin" => Ok(Role::Admin),
            other => Err(Error::Invalid(format!("unknown role {other:?}: admin, reviewer or annotator"))),
        }
    }
}

/// A person who may sign in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct User {
    /// The name they sign in with, and their annotator name in the log.
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// When they were added (ms since the epoch).
    pub created_at: i64,
    /// When their password was last set (ms); sessions signed in before it have ended.
    pub password_changed_at: i64,
}

/// A name people sign in with: what annotator names already are, without the characters that
/// would make it ambiguous on a screen or in a cookie.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::Invalid(format!("user name {name:?}: 1 to 64 characters")));
    }
    if name.trim() != name || name.chars().any(|c| c.is_control()) {
        return Err(Error::Invalid(format!(
            "user name {name:?}: no control characters, no spaces at its start or end"
        )));
    }
    Ok(())
}

impl Store {
    /// Adds `name` with `role` and the hash of their password; refuses a name already taken.
    pub fn add_user(&self, name: &str, role: Role, password_hash: &str) -> Result<User> {
        check_name(name)?;
        let now = crate::now_ms();
        let inserted = self.conn.execute(
            "INSERT INTO users (name, role, password_hash, created_at, password_changed_at)
             VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name) DO NOTHING",
            params![name, role.as_str(), password_hash, now],
        )?;
        if inserted == 0 {
            return Err(Error::Invalid(format!(
                "user {name:?} already exists: `finelab user reset` gives them a new password"
            )));
        }
        Ok(User { name: name.to_string(), role, created_at: now, password_changed_at: now })
    }

    /// Every user, by name.
    pub fn users(&self) -> Result<Vec<User>> {
        let mut stmt =
            self.conn.prepare_cached("SELECT name, role, created_at, password_changed_at FROM users ORDER BY name")?;
        let rows = stmt.query_map([], user_row)?;
        rows.map(|r| user_from(r?)).collect()
    }

    /// Whether anyone may sign in to this project.
    pub fn has_users(&self) -> Result<bool> {
        Ok(self.conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0))?)
    }

    /// `name` and their password hash, if they exist.
    pub fn user_with_hash(&self, name: &str) -> Result<Option<(User, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT name, role, created_at, password_changed_at, password_hash FROM users WHERE name = ?1",
        )?;
        let row = stmt.query_row([name], |r| Ok((user_row(r)?, r.get::<_, String>(4)?))).optional()?;
        row.map(|(user, hash)| Ok((user_from(user)?, hash))).transpose()
    }

    /// `name`, if they exist.
    pub fn user(&self, name: &str) -> Result<Option<User>> {
        Ok(self.user_with_hash(name)?.map(|(user, _)| user))
    }

    /// Replaces `name`'s password hash (and so ends their sessions).
    pub fn set_password(&self, name: &str, password_hash: &str) -> Result<User> {
        let now = crate::now_ms();
        let changed = self.conn.execute(
            "UPDATE users SET password_hash = ?2, password_changed_at = max(?3, password_changed_at + 1) WHERE name = ?1",
            params![name, password_hash, now],
        )?;
        if changed == 0 {
            return Err(no_such_user(name));
        }
        self.user(name)?.ok_or_else(|| no_such_user(name))
    }

    /// Removes `name`: they can no longer sign in; their annotations stay in the log.
    pub fn remove_user(&self, name: &str) -> Result<()> {
        if self.conn.execute("DELETE FROM users WHERE name = ?1", [name])? == 0 {
            return Err(no_such_user(name));
        }
        Ok(())
    }
}

fn no_such_user(name: &str) -> Error {
    Error::Invalid(format!("no user {name:?}: `finelab user list` shows who there is"))
}

type UserRow = (String, String, i64, i64);

/// The columns `name, role, created_at, password_changed_at`.
fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

/// A role the program does not know (a newer Finelab's) is an error, not a panic.
fn user_from(row: UserRow) -> Result<User> {
    let (name, role, created_at, password_changed_at) = row;
    Ok(User { name, role: role.parse()?, created_at, password_changed_at })
}
