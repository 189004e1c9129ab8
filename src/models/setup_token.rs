use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::setup_tokens;
use crate::domain::{Secret, random_alphanumeric};

/// The one-time first-run link that creates the first staff account.
pub struct SetupToken;

impl SetupToken {
    /// Replaces any earlier setup link with a new one and returns its secret.
    pub fn issue(conn: &mut AnyConnection) -> QueryResult<Secret> {
        let secret = Secret::new(random_alphanumeric(32));
        conn.transaction(|conn| {
            diesel::delete(setup_tokens::table).execute(conn)?;
            diesel::insert_into(setup_tokens::table)
                .values((
                    setup_tokens::token_digest.eq(secret.digest()),
                    setup_tokens::created_at.eq(super::now()),
                ))
                .execute(conn)
        })?;
        Ok(secret)
    }

    pub fn is_valid(conn: &mut AnyConnection, secret: &Secret) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(
            setup_tokens::table.filter(setup_tokens::token_digest.eq(secret.digest())),
        ))
        .get_result(conn)
    }

    /// Uses the link up: returns false if it was not (or no longer) valid.
    pub fn consume(conn: &mut AnyConnection, secret: &Secret) -> QueryResult<bool> {
        let deleted = diesel::delete(setup_tokens::table.filter(setup_tokens::token_digest.eq(secret.digest())))
            .execute(conn)?;
        Ok(deleted == 1)
    }
}
