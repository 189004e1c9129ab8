use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::AnyConnection;
use crate::db::schema::companies;
use crate::domain::{CompanyName, ProvisioningMode, Shortcode};

/// The tenant key. Every query on a company's data takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CompanyId(pub i64);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = companies)]
pub struct Company {
    pub id: i64,
    pub shortcode: String,
    pub name: String,
    pub entra_enabled: bool,
    pub job_title_sync: bool,
    pub groups_enabled: bool,
    pub provisioning_mode: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = companies)]
struct NewCompany<'a> {
    shortcode: &'a str,
    name: &'a str,
    entra_enabled: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl Company {
    pub fn company_id(&self) -> CompanyId {
        CompanyId(self.id)
    }

    pub fn mode(&self) -> ProvisioningMode {
        ProvisioningMode::parse(&self.provisioning_mode).unwrap_or(ProvisioningMode::None)
    }

    pub fn create(
        conn: &mut AnyConnection,
        shortcode: &Shortcode,
        name: &CompanyName,
        entra_enabled: bool,
    ) -> QueryResult<Company> {
        let now = super::now();
        diesel::insert_into(companies::table)
            .values(NewCompany {
                shortcode: shortcode.as_str(),
                name: name.as_str(),
                entra_enabled,
                created_at: now,
                updated_at: now,
            })
            .returning(companies::all_columns)
            .get_result(conn)
    }

    pub fn find_by_shortcode(conn: &mut AnyConnection, shortcode: &str) -> QueryResult<Option<Company>> {
        companies::table
            .filter(companies::shortcode.eq(shortcode))
            .select(Company::as_select())
            .first(conn)
            .optional()
    }

    pub fn find(conn: &mut AnyConnection, id: CompanyId) -> QueryResult<Option<Company>> {
        companies::table.find(id.0).select(Company::as_select()).first(conn).optional()
    }

    /// Companies whose name or shortcode contains `search` (case-insensitive), by name.
    pub fn list(conn: &mut AnyConnection, search: Option<&str>) -> QueryResult<Vec<Company>> {
        let mut query = companies::table.select(Company::as_select()).into_boxed();
        if let Some(term) = search.map(str::trim).filter(|t| !t.is_empty()) {
            let pattern = format!("%{}%", crate::db::like_escape(&term.to_lowercase()));
            query = query.filter(
                crate::db::lower(companies::name)
                    .like(pattern.clone())
                    .escape('\\')
                    .or(companies::shortcode.like(pattern).escape('\\')),
            );
        }
        query.order((companies::name.asc(), companies::id.asc())).load(conn)
    }

    pub fn set_entra_enabled(conn: &mut AnyConnection, id: CompanyId, on: bool) -> QueryResult<usize> {
        crate::db::epoch::changed();
        diesel::update(companies::table.find(id.0))
            .set((companies::entra_enabled.eq(on), companies::updated_at.eq(super::now())))
            .execute(conn)
    }

    pub fn set_job_title_sync(conn: &mut AnyConnection, id: CompanyId, on: bool) -> QueryResult<usize> {
        crate::db::epoch::changed();
        diesel::update(companies::table.find(id.0))
            .set((companies::job_title_sync.eq(on), companies::updated_at.eq(super::now())))
            .execute(conn)
    }

    pub fn set_groups_enabled(conn: &mut AnyConnection, id: CompanyId, on: bool) -> QueryResult<usize> {
        crate::db::epoch::changed();
        diesel::update(companies::table.find(id.0))
            .set((companies::groups_enabled.eq(on), companies::updated_at.eq(super::now())))
            .execute(conn)
    }

    pub fn set_provisioning_mode(
        conn: &mut AnyConnection,
        id: CompanyId,
        mode: ProvisioningMode,
    ) -> QueryResult<usize> {
        crate::db::epoch::changed();
        diesel::update(companies::table.find(id.0))
            .set((companies::provisioning_mode.eq(mode.as_str()), companies::updated_at.eq(super::now())))
            .execute(conn)
    }
}
