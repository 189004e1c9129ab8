//! Rule 9: disconnecting the integration.

use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::users;
use crate::models::CompanyId;
use crate::models::activity::NewActivity;
use crate::models::scim_token::ScimToken;

/// Revokes the company's token (SCIM stops at once) and, if asked, disables every person this
/// connection provisioned. Disabling sets SCIM `active` to false, which Entra reads back: its
/// next cycle after a reconnect re-enables whoever is still assigned there.
pub fn disconnect(conn: &mut AnyConnection, company: CompanyId, admin_email: &str, disable_all: bool) -> QueryResult<usize> {
    ScimToken::revoke_all(conn, company)?;
    let disabled = if disable_all {
        diesel::update(
            users::table
                .filter(users::company_id.eq(company.0))
                .filter(users::source.eq("entra"))
                .filter(users::deprovisioned_at.is_null())
                .filter(users::scim_active.is_null().or(users::scim_active.eq(true))),
        )
        .set((users::scim_active.eq(Some(false)), users::updated_at.eq(crate::models::now()), users::version.eq(users::version + 1)))
        .execute(conn)?
    } else {
        0
    };
    let mut event = NewActivity::new(company, admin_email, "disconnect", "Integration");
    event.detail = if disable_all {
        format!("secret token revoked; {disabled} Entra-provisioned people disabled")
    } else {
        "secret token revoked; people left as they were".to_owned()
    };
    event.insert(conn)?;
    Ok(disabled)
}
