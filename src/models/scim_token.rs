use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{Company, CompanyId};
use crate::db::AnyConnection;
use crate::db::schema::{companies, scim_tokens};
use crate::domain::{Secret, Shortcode, random_alphanumeric};

/// A company's SCIM bearer token, stored only as its SHA-256 digest.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scim_tokens)]
pub struct ScimToken {
    pub id: i64,
    pub company_id: i64,
    pub token_digest: String,
    pub last4: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = scim_tokens)]
struct NewScimToken<'a> {
    company_id: i64,
    token_digest: &'a str,
    last4: &'a str,
    created_at: NaiveDateTime,
}

/// A new token: `<shortcode>-XXXXXXX-XXXXXXX-XXXXXXXX`, 22 random letters and digits
/// (≈131 bits). High entropy is what lets a plain SHA-256 digest stand in for a password hash.
pub fn generate_secret(shortcode: &Shortcode) -> Secret {
    let r = random_alphanumeric(22);
    Secret::new(format!("{shortcode}-{}-{}-{}", &r[0..7], &r[7..14], &r[14..22]))
}

impl ScimToken {
    /// Revokes the company's current token (if any) and stores a new one, in one transaction
    /// so that exactly one token is live afterwards. Returns the secret to show once.
    pub fn rotate(conn: &mut AnyConnection, company: CompanyId, shortcode: &Shortcode) -> QueryResult<Secret> {
        crate::db::epoch::changed();
        let secret = generate_secret(shortcode);
        conn.transaction(|conn| {
            ScimToken::revoke_all(conn, company)?;
            diesel::insert_into(scim_tokens::table)
                .values(NewScimToken {
                    company_id: company.0,
                    token_digest: &secret.digest(),
                    last4: &secret.last4(),
                    created_at: super::now(),
                })
                .execute(conn)
        })?;
        Ok(secret)
    }

    /// Revokes every live token of the company; returns how many were live.
    pub fn revoke_all(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<usize> {
        crate::db::epoch::changed();
        diesel::update(
            scim_tokens::table
                .filter(scim_tokens::company_id.eq(company.0))
                .filter(scim_tokens::revoked_at.is_null()),
        )
        .set(scim_tokens::revoked_at.eq(super::now()))
        .execute(conn)
    }

    /// The company's live token, if it has one.
    pub fn current(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<Option<ScimToken>> {
        scim_tokens::table
            .filter(scim_tokens::company_id.eq(company.0))
            .filter(scim_tokens::revoked_at.is_null())
            .order(scim_tokens::id.desc())
            .select(ScimToken::as_select())
            .first(conn)
            .optional()
    }

    /// The live token with this digest and its company, looked up by the unique index.
    pub fn find_live_by_digest(
        conn: &mut AnyConnection,
        digest: &str,
    ) -> QueryResult<Option<(ScimToken, Company)>> {
        // Every SCIM request runs this: on the concrete connection, so its SQL is not
        // rendered again for each execution (see `per_backend!`).
        crate::per_backend!(conn, c => scim_tokens::table
            .inner_join(companies::table)
            .filter(scim_tokens::token_digest.eq(digest))
            .filter(scim_tokens::revoked_at.is_null())
            .select((ScimToken::as_select(), Company::as_select()))
            .first(c)
            .optional())
    }

    /// The company of a revoked token with this digest, if there is one.
    pub fn company_of_revoked(conn: &mut AnyConnection, digest: &str) -> QueryResult<Option<Company>> {
        scim_tokens::table
            .inner_join(companies::table)
            .filter(scim_tokens::token_digest.eq(digest))
            .filter(scim_tokens::revoked_at.is_not_null())
            .select(Company::as_select())
            .first(conn)
            .optional()
    }

    pub fn touch(conn: &mut AnyConnection, id: i64, at: NaiveDateTime) -> QueryResult<usize> {
        diesel::update(scim_tokens::table.find(id)).set(scim_tokens::last_used_at.eq(at)).execute(conn)
    }
}
