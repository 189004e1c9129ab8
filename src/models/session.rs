//! Portal sessions, stored in the database (so they survive restarts and work across
//! instances). The cookie holds a random id; the table holds only its digest.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::account::Account;
use crate::db::AnyConnection;
use crate::db::schema::{accounts, sessions, sign_in_failures};
use crate::domain::{Secret, random_alphanumeric};

/// How long a session lasts without being used.
pub const SESSION_LIFETIME_HOURS: i64 = 12;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id: i64,
    pub token_digest: String,
    pub account_id: i64,
    pub csrf_token: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

impl Session {
    /// Starts a session; returns the cookie value (shown to the browser only).
    pub fn start(conn: &mut AnyConnection, account_id: i64) -> QueryResult<Secret> {
        let secret = Secret::new(random_alphanumeric(40));
        let now = super::now();
        diesel::insert_into(sessions::table)
            .values((
                sessions::token_digest.eq(secret.digest()),
                sessions::account_id.eq(account_id),
                sessions::csrf_token.eq(random_alphanumeric(32)),
                sessions::created_at.eq(now),
                sessions::expires_at.eq(now + Duration::hours(SESSION_LIFETIME_HOURS)),
            ))
            .execute(conn)?;
        Ok(secret)
    }

    /// The live session with this cookie value and its account; slides the expiry forward.
    pub fn resume(conn: &mut AnyConnection, secret: &Secret) -> QueryResult<Option<(Session, Account)>> {
        let now = super::now();
        let found = sessions::table
            .inner_join(accounts::table)
            .filter(sessions::token_digest.eq(secret.digest()))
            .filter(sessions::expires_at.gt(now))
            .select((Session::as_select(), Account::as_select()))
            .first::<(Session, Account)>(conn)
            .optional()?;
        if let Some((session, _)) = &found
            && session.expires_at - now < Duration::hours(SESSION_LIFETIME_HOURS - 1)
        {
            diesel::update(sessions::table.find(session.id))
                .set(sessions::expires_at.eq(now + Duration::hours(SESSION_LIFETIME_HOURS)))
                .execute(conn)?;
        }
        Ok(found)
    }

    pub fn end(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
        diesel::delete(sessions::table.find(id)).execute(conn)
    }

    /// Ends every other session of the account (after a password change).
    pub fn end_others(conn: &mut AnyConnection, account_id: i64, keep: i64) -> QueryResult<usize> {
        diesel::delete(sessions::table.filter(sessions::account_id.eq(account_id)).filter(sessions::id.ne(keep))).execute(conn)
    }
}

/// Failed sign-ins, counted per account email and per client address.
pub struct SignInFailures;

/// Failures allowed in the window before sign-in is refused for that key.
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
pub const MAX_FAILURES_PER_CLIENT: i64 = 20;
pub const FAILURE_WINDOW_MINUTES: i64 = 15;

impl SignInFailures {
    pub fn count_recent(conn: &mut AnyConnection, key: &str) -> QueryResult<i64> {
        let since = super::now() - Duration::minutes(FAILURE_WINDOW_MINUTES);
        sign_in_failures::table
            .filter(sign_in_failures::throttle_key.eq(key))
            .filter(sign_in_failures::failed_at.gt(since))
            .count()
            .get_result(conn)
    }

    pub fn record(conn: &mut AnyConnection, keys: &[String]) -> QueryResult<()> {
        let now = super::now();
        for key in keys {
            diesel::insert_into(sign_in_failures::table)
                .values((sign_in_failures::throttle_key.eq(key), sign_in_failures::failed_at.eq(now)))
                .execute(conn)?;
        }
        // Old rows are useless; keep the table small.
        diesel::delete(sign_in_failures::table.filter(sign_in_failures::failed_at.lt(now - Duration::days(1)))).execute(conn)?;
        Ok(())
    }
}
