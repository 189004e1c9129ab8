use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::schema::passles;
use crate::domain::PassleName;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = passles)]
pub struct Passle {
    pub id: i64,
    pub company_id: i64,
    pub name: String,
    pub name_lower: String,
    pub selected_for_provisioning: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = passles)]
struct NewPassle<'a> {
    company_id: i64,
    name: &'a str,
    name_lower: &'a str,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Passle {
    pub fn create(conn: &mut AnyConnection, company: CompanyId, name: &PassleName) -> QueryResult<Passle> {
        let now = super::now();
        diesel::insert_into(passles::table)
            .values(NewPassle {
                company_id: company.0,
                name: name.as_str(),
                name_lower: &name.lower(),
                created_at: now,
                updated_at: now,
            })
            .returning(passles::all_columns)
            .get_result(conn)
    }

    pub fn list(conn: &mut AnyConnection, company: CompanyId) -> QueryResult<Vec<Passle>> {
        passles::table
            .filter(passles::company_id.eq(company.0))
            .order((passles::name_lower.asc(), passles::id.asc()))
            .select(Passle::as_select())
            .load(conn)
    }

    pub fn find(conn: &mut AnyConnection, company: CompanyId, id: i64) -> QueryResult<Option<Passle>> {
        passles::table
            .filter(passles::company_id.eq(company.0).and(passles::id.eq(id)))
            .select(Passle::as_select())
            .first(conn)
            .optional()
    }

    pub fn rename(conn: &mut AnyConnection, company: CompanyId, id: i64, name: &PassleName) -> QueryResult<usize> {
        diesel::update(passles::table.filter(passles::company_id.eq(company.0).and(passles::id.eq(id))))
            .set((
                passles::name.eq(name.as_str()),
                passles::name_lower.eq(name.lower()),
                passles::updated_at.eq(super::now()),
            ))
            .execute(conn)
    }

    /// Marks exactly `ids` (the company's own) as the Passles new Entra users are put on.
    pub fn set_selected_for_provisioning(
        conn: &mut AnyConnection,
        company: CompanyId,
        ids: &[i64],
    ) -> QueryResult<()> {
        diesel::update(passles::table.filter(passles::company_id.eq(company.0)))
            .set(passles::selected_for_provisioning.eq(false))
            .execute(conn)?;
        diesel::update(passles::table.filter(passles::company_id.eq(company.0).and(passles::id.eq_any(ids))))
            .set(passles::selected_for_provisioning.eq(true))
            .execute(conn)?;
        Ok(())
    }
}
