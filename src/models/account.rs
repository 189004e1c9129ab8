use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::schema::accounts;
use crate::domain::Email;

/// A person who signs in to the portal: platform staff (no company) or a company admin.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct Account {
    pub id: i64,
    pub company_id: Option<i64>,
    pub email: String,
    pub email_lower: String,
    pub password_hash: String,
    pub must_change_password: bool,
    pub activity_seen_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = accounts)]
struct NewAccount<'a> {
    company_id: Option<i64>,
    email: &'a str,
    email_lower: &'a str,
    password_hash: &'a str,
    must_change_password: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Account {
    pub fn is_staff(&self) -> bool {
        self.company_id.is_none()
    }

    /// Creates an account; `company` is `None` for platform staff. `password_hash` is an
    /// argon2id PHC string. Fails with a unique violation if the email is taken.
    pub fn create(
        conn: &mut AnyConnection,
        company: Option<CompanyId>,
        email: &Email,
        password_hash: &str,
        must_change_password: bool,
    ) -> QueryResult<Account> {
        let now = super::now();
        diesel::insert_into(accounts::table)
            .values(NewAccount {
                company_id: company.map(|c| c.0),
                email: email.as_str(),
                email_lower: &email.lower(),
                password_hash,
                must_change_password,
                created_at: now,
                updated_at: now,
            })
            .returning(accounts::all_columns)
            .get_result(conn)
    }

    pub fn find_by_email(conn: &mut AnyConnection, email_lower: &str) -> QueryResult<Option<Account>> {
        accounts::table
            .filter(accounts::email_lower.eq(email_lower))
            .select(Account::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut AnyConnection, id: i64) -> QueryResult<Option<Account>> {
        accounts::table.find(id).select(Account::as_select()).first(conn).optional()
    }

    pub fn staff_exists(conn: &mut AnyConnection) -> QueryResult<bool> {
        diesel::select(diesel::dsl::exists(accounts::table.filter(accounts::company_id.is_null())))
            .get_result(conn)
    }

    pub fn list_for_company(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<Vec<Account>> {
        accounts::table
            .filter(accounts::company_id.eq(company.0))
            .order(accounts::email_lower.asc())
            .select(Account::as_select())
            .load(conn)
    }

    pub fn set_password(conn: &mut AnyConnection, id: i64, password_hash: &str) -> QueryResult<usize> {
        diesel::update(accounts::table.find(id))
            .set((
                accounts::password_hash.eq(password_hash),
                accounts::must_change_password.eq(false),
                accounts::updated_at.eq(super::now()),
            ))
            .execute(conn)
    }

    pub fn mark_activity_seen(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
        diesel::update(accounts::table.find(id))
            .set(accounts::activity_seen_at.eq(super::now()))
            .execute(conn)
    }
}
