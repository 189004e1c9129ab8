//! People of a company: the `users` row (product state, the SCIM attributes that are
//! columns, and everything else SCIM sent as one JSON document) and their `user_lookups`
//! rows (the values Entra may match on, indexed for filters).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::CompanyId;
use super::activity::NewActivity;
use super::one_trip::{CreatePerson, LookupArrays, UpdatePerson};
use crate::db::AnyConnection;
use crate::db::update::{FixedChangeset, cached_update};
use crate::db::schema::{user_lookups, users};
use crate::domain::{INDEXED_MULTI_VALUED, MULTI_VALUED, UserAttributes, is_extension_path, new_scim_id};

mod insert;

use insert::{InsertPerson, InsertValues, LastInsertRowid};

/// An equality on one of a person's identity columns, with the value already lower-cased
/// the way those columns store it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityLookup {
    UserName(String),
    ExternalId(String),
}

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: i64,
    pub company_id: i64,
    pub scim_id: String,
    pub user_name: String,
    pub user_name_lower: String,
    pub external_id: Option<String>,
    pub external_id_lower: Option<String>,
    pub email: Option<String>,
    pub email_lower: Option<String>,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    pub preferred_language: Option<String>,
    pub manager_id: Option<String>,
    pub scim_active: Option<bool>,
    pub job_title: Option<String>,
    pub role: Option<String>,
    pub source: String,
    pub disabled_at: Option<NaiveDateTime>,
    pub deprovisioned_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub version: i64,
    pub deprovisioned_key: Option<String>,
    /// The SCIM attributes that are not columns, as a JSON object (see [`document_of`]).
    pub scim_values: String,
}

/// An indexed value of a person: an element of `emails`, or an enterprise or custom extension
/// attribute (what Entra may be told to match on). Lower-cased as filters compare them.
// `None` is NULL, not DEFAULT: every row is the same statement (one cached INSERT on SQLite)
// and rows can share one multi-row INSERT (PostgreSQL).
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = user_lookups, treat_none_as_default_value = false)]
pub(super) struct LookupRow {
    pub(super) user_id: i64,
    pub(super) attribute: String,
    pub(super) position: i32,
    pub(super) company_id: i64,
    pub(super) value_lower: Option<String>,
    pub(super) type_: Option<String>,
    pub(super) is_primary: Option<bool>,
    pub(super) display: Option<String>,
}

/// What a lookup row holds besides its key (person, attribute, position).
#[derive(AsChangeset)]
#[diesel(table_name = user_lookups, treat_none_as_null = true)]
struct LookupContent<'a> {
    value_lower: Option<&'a str>,
    type_: Option<&'a str>,
    is_primary: Option<bool>,
    display: Option<&'a str>,
}

impl FixedChangeset for LookupContent<'_> {
    type Key = LookupContent<'static>;
}

impl LookupRow {
    fn content(&self) -> LookupContent<'_> {
        LookupContent {
            value_lower: self.value_lower.as_deref(),
            type_: self.type_.as_deref(),
            is_primary: self.is_primary,
            display: self.display.as_deref(),
        }
    }
}

/// The SCIM columns of `users` that identify a person: each has a unique index per company.
// `None` is NULL, never skipped: one SQL text whatever is set, so the UPDATEs stay prepared.
// (The INSERT is written out in `insert.rs`.)
#[derive(AsChangeset, PartialEq)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct IdentityColumns {
    user_name: String,
    user_name_lower: String,
    external_id: Option<String>,
    external_id_lower: Option<String>,
    email: Option<String>,
    email_lower: Option<String>,
}

impl FixedChangeset for IdentityColumns {
    type Key = IdentityColumns;
}

/// The other SCIM columns of `users`.
#[derive(AsChangeset, PartialEq)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct DetailColumns {
    display_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    title: Option<String>,
    preferred_language: Option<String>,
    manager_id: Option<String>,
    scim_active: Option<bool>,
    scim_values: String,
}

impl IdentityColumns {
    fn of(attrs: &UserAttributes) -> IdentityColumns {
        let email = attrs.email();
        IdentityColumns {
            user_name: attrs.user_name.clone(),
            user_name_lower: attrs.user_name.to_lowercase(),
            external_id: attrs.external_id.clone(),
            external_id_lower: attrs.external_id.as_ref().map(|e| e.to_lowercase()),
            email_lower: email.as_ref().map(|e| e.lower()),
            email: email.map(|e| e.as_str().to_owned()),
        }
    }

    fn apply(self, row: &mut UserRow) {
        row.user_name = self.user_name;
        row.user_name_lower = self.user_name_lower;
        row.external_id = self.external_id;
        row.external_id_lower = self.external_id_lower;
        row.email = self.email;
        row.email_lower = self.email_lower;
    }

    /// Whether `row` already holds these values.
    fn matches(&self, row: &UserRow) -> bool {
        self.user_name == row.user_name
            && self.user_name_lower == row.user_name_lower
            && self.external_id == row.external_id
            && self.external_id_lower == row.external_id_lower
            && self.email == row.email
            && self.email_lower == row.email_lower
    }
}

impl FixedChangeset for DetailColumns {
    type Key = DetailColumns;
}

/// What every change of a person's SCIM attributes sets besides them.
#[derive(AsChangeset)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct Stamp {
    updated_at: NaiveDateTime,
    version: i64,
}

impl FixedChangeset for Stamp {
    type Key = Stamp;
}

impl DetailColumns {
    fn of(attrs: &UserAttributes) -> DetailColumns {
        DetailColumns {
            display_name: attrs.display_name.clone(),
            given_name: attrs.given_name.clone(),
            family_name: attrs.family_name.clone(),
            title: attrs.title.clone(),
            preferred_language: attrs.preferred_language.clone(),
            manager_id: attrs.manager.clone(),
            scim_active: attrs.active,
            scim_values: document_of(attrs),
        }
    }

    fn apply(self, row: &mut UserRow) {
        row.display_name = self.display_name;
        row.given_name = self.given_name;
        row.family_name = self.family_name;
        row.title = self.title;
        row.preferred_language = self.preferred_language;
        row.manager_id = self.manager_id;
        row.scim_active = self.scim_active;
        row.scim_values = self.scim_values;
    }
}

/// What a new person's row and lookup rows hold of their SCIM attributes, worked out from
/// them alone: a create can make it before its write (on SQLite the writer thread, which every
/// write queues for, then only writes).
pub struct PersonColumns {
    scim_id: String,
    identity: IdentityColumns,
    details: DetailColumns,
    /// Without the person's id and company (filled in when they are written).
    lookups: Vec<LookupRow>,
}

impl PersonColumns {
    pub fn of(attrs: &UserAttributes) -> PersonColumns {
        PersonColumns {
            scim_id: new_scim_id(),
            identity: IdentityColumns::of(attrs),
            details: DetailColumns::of(attrs),
            lookups: lookup_rows(0, 0, attrs),
        }
    }

    /// True when these are the columns of `attrs` (whatever the SCIM id).
    fn describe(&self, attrs: &UserAttributes) -> bool {
        let fresh = PersonColumns::of(attrs);
        self.identity == fresh.identity && self.details == fresh.details && self.lookups == fresh.lookups
    }
}

/// Product state of a new person, with their SCIM attributes and the columns made of them.
pub struct NewPerson<'a> {
    attributes: &'a UserAttributes,
    columns: PersonColumns,
    source: &'a str,
    role: Option<&'a str>,
    job_title: Option<&'a str>,
}

impl<'a> NewPerson<'a> {
    /// A person from `source` (`entra`, `manual`), without role or job title.
    pub fn of(attributes: &'a UserAttributes, source: &'a str) -> NewPerson<'a> {
        NewPerson::with_columns(attributes, PersonColumns::of(attributes), source)
    }

    /// Like [`of`](NewPerson::of), with the columns already made of `attributes` (a create
    /// makes them before it queues for the write).
    pub fn with_columns(attributes: &'a UserAttributes, columns: PersonColumns, source: &'a str) -> NewPerson<'a> {
        debug_assert!(columns.describe(attributes), "a new person's columns were made of other attributes");
        NewPerson { attributes, columns, source, role: None, job_title: None }
    }

    pub fn role(self, role: Option<&'a str>) -> NewPerson<'a> {
        NewPerson { role, ..self }
    }

    pub fn job_title(self, job_title: Option<&'a str>) -> NewPerson<'a> {
        NewPerson { job_title, ..self }
    }
}

/// A person with their SCIM attributes loaded.
#[derive(Debug, Clone)]
pub struct User {
    pub row: UserRow,
    pub attributes: UserAttributes,
    /// The groups they belong to: (group SCIM id, displayName).
    pub groups: Vec<(String, String)>,
}

impl User {
    /// Inserts the person and their values, and `event` about them if given (its person
    /// fields are set from the new row); returns the stored row. With an event, one statement
    /// on PostgreSQL (see `one_trip`).
    pub fn insert(conn: &mut AnyConnection, company: CompanyId, person: NewPerson<'_>, event: Option<NewActivity>) -> QueryResult<User> {
        let attributes = person.attributes.clone();
        let row = Self::insert_row(conn, company, person, event, false)?.ok_or(diesel::result::Error::NotFound)?;
        Ok(User { row, attributes, groups: Vec::new() })
    }

    /// Like [`insert`](User::insert), returning the row. `unless_known`: not if the company
    /// has a person with this userName or email, or a deprovisioned person who had this
    /// userName (whom a create links to instead); then `None`, and nothing is written. On
    /// PostgreSQL that check is part of the INSERT (see `insert.rs`).
    pub fn insert_row(
        conn: &mut AnyConnection,
        company: CompanyId,
        person: NewPerson<'_>,
        event: Option<NewActivity>,
        unless_known: bool,
    ) -> QueryResult<Option<UserRow>> {
        match *conn {
            AnyConnection::Postgresql(ref mut c) if unless_known => insert_pg(c, InsertPerson::<true>::new(company, person), event.as_ref()),
            AnyConnection::Postgresql(ref mut c) => insert_pg(c, InsertPerson::<false>::new(company, person), event.as_ref()),
            AnyConnection::Sqlite(_) => {
                let identity = &person.columns.identity;
                if unless_known {
                    // SQLite would copy an INSERT's SELECT that reads `users` to a temporary
                    // table: a query of its own costs the writer less, and there is no round
                    // trip to save.
                    let email_lower = identity.email_lower.as_deref().unwrap_or_default();
                    let (matches, deprovisioned) = Self::find_create_candidates(conn, company, &identity.user_name_lower, email_lower)?;
                    if !matches.is_empty() || deprovisioned.is_some() {
                        return Ok(None);
                    }
                }
                insert_sqlite(conn, InsertPerson::<false>::new(company, person), event).map(Some)
            }
        }
    }

    /// Replaces the SCIM attributes if the stored version is still `row.version`, bumping it,
    /// and records `event` about the person if given and the update applied (one statement
    /// on PostgreSQL, see `one_trip`). Returns `None` when someone else changed the person
    /// first (the caller retries). In the returned row the SCIM columns, `updated_at` and
    /// `version` are what was written; the product columns (role, job title, disabled) are as
    /// `row` had them, since portal changes to those do not bump the version.
    /// `before` are the attributes `row` holds (the caller has them already: no second parse
    /// of the stored document).
    pub fn update_attributes(
        conn: &mut AnyConnection,
        row: &UserRow,
        before: &UserAttributes,
        attrs: &UserAttributes,
        event: Option<NewActivity>,
    ) -> QueryResult<Option<UserRow>> {
        let identity = IdentityColumns::of(attrs);
        let details = DetailColumns::of(attrs);
        let now = super::now();
        let stamp = Stamp { updated_at: now, version: row.version + 1 };
        let current = users::id.eq(row.id).and(users::version.eq(row.version));
        // Setting a column rewrites its index entry even to the same value, a random page of
        // the WAL each: most changes (title, manager, active) leave the identity alone.
        let same_identity = identity.matches(row);
        let lookups = LookupChanges::between(lookup_rows(row.id, row.company_id, before), lookup_rows(row.id, row.company_id, attrs));
        if let (AnyConnection::Postgresql(c), Some(event)) = (&mut *conn, &event) {
            let (upserts, removed) = lookups.into_arrays();
            let changed: i64 = if same_identity {
                UpdatePerson { update: cached_update(users::table, (&details, stamp), current), upserts, removed, event }.get_result(c)
            } else {
                UpdatePerson { update: cached_update(users::table, (&identity, &details, stamp), current), upserts, removed, event }.get_result(c)
            }?;
            return Ok((changed > 0).then(|| written(row, identity, details, now)));
        }
        let changed = crate::per_backend!(&mut *conn, c => if same_identity {
            cached_update(users::table, (&details, stamp), current).execute(c)
        } else {
            cached_update(users::table, (&identity, &details, stamp), current).execute(c)
        })?;
        if changed == 0 {
            return Ok(None);
        }
        let updated = written(row, identity, details, now);
        lookups.write(conn)?;
        if let Some(event) = event {
            event.about(&updated).insert(conn)?;
        }
        Ok(Some(updated))
    }

    /// Assembles the people of `rows` (their attributes are on the row), in `rows` order.
    /// Their groups are loaded only `with_groups` (the company provisions groups; otherwise
    /// memberships are kept but not shown, as the company's `/Groups` is closed).
    pub fn assemble(conn: &mut AnyConnection, rows: Vec<UserRow>, with_groups: bool) -> QueryResult<Vec<User>> {
        let mut groups: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        if with_groups && !rows.is_empty() {
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            for (user_id, scim_id, name) in super::group::Group::of_users(conn, &ids)? {
                groups.entry(user_id).or_default().push((scim_id, name));
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let attributes = row.attributes();
                let groups = groups.remove(&row.id).unwrap_or_default();
                User { row, attributes, groups }
            })
            .collect())
    }

    /// The company's person with this SCIM id, unless deprovisioned (gone for SCIM).
    pub fn find_by_scim_id(conn: &mut AnyConnection, company: &super::Company, scim_id: &str) -> QueryResult<Option<User>> {
        let row = crate::per_backend!(conn, c => users::table
            .filter(users::company_id.eq(company.id))
            .filter(users::scim_id.eq(scim_id))
            .filter(users::deprovisioned_at.is_null())
            .select(UserRow::as_select())
            .first(c)
            .optional())?;
        Ok(match row {
            Some(row) => User::assemble(conn, vec![row], company.groups_enabled)?.pop(),
            None => None,
        })
    }
}

impl User {
    /// Who a create of `user_name_lower` / `email_lower` must consider, in one query: the
    /// company's present people with this userName or email (case-insensitive), whom a create
    /// links to instead of duplicating, and the most recently deprovisioned person who had
    /// this userName, whom it restores (several people may once have had it).
    pub fn find_create_candidates(
        conn: &mut AnyConnection,
        company: CompanyId,
        user_name_lower: &str,
        email_lower: &str,
    ) -> QueryResult<(Vec<UserRow>, Option<UserRow>)> {
        // Three index lookups rather than one `a = ? OR b = ?`: PostgreSQL, planning
        // from statistics taken while the table was small, scanned every person for the OR.
        // (A deprovisioned person's userName and email columns no longer hold their values.)
        let rows: Vec<UserRow> = crate::per_backend!(conn, c => {
            let of_company = || users::table.filter(users::company_id.eq(company.0)).select(UserRow::as_select());
            of_company()
                .filter(users::user_name_lower.eq(user_name_lower))
                .union_all(of_company().filter(users::email_lower.eq(email_lower)))
                .union_all(of_company().filter(users::deprovisioned_key.eq(user_name_lower)))
                .load(c)
        })?;
        let mut matches: Vec<UserRow> = Vec::new();
        let mut deprovisioned = None;
        for row in rows {
            if row.deprovisioned_key.as_deref() == Some(user_name_lower) {
                if deprovisioned.as_ref().is_none_or(|d: &UserRow| d.id < row.id) {
                    deprovisioned = Some(row);
                }
            } else if !matches.iter().any(|m| m.id == row.id) {
                matches.push(row);
            }
        }
        matches.sort_by_key(|r| r.id);
        Ok((matches, deprovisioned))
    }

    /// Marks the person as managed by Entra and present for SCIM (linking or restoring).
    pub fn link_to_entra(conn: &mut AnyConnection, id: i64) -> QueryResult<usize> {
        diesel::update(users::table.find(id))
            .set((
                users::source.eq("entra"),
                users::deprovisioned_at.eq(None::<NaiveDateTime>),
                users::deprovisioned_key.eq(None::<String>),
                users::updated_at.eq(super::now()),
                users::version.eq(users::version + 1),
            ))
            .execute(conn)
    }

    /// SCIM DELETE: the person is kept, disabled and unlinked (404 to SCIM from now on). Their
    /// userName, email and externalId stay visible in the portal but no longer block others;
    /// `deprovisioned_key` remembers the userName for a later restore.
    pub fn deprovision(conn: &mut AnyConnection, row: &UserRow) -> QueryResult<usize> {
        diesel::update(users::table.find(row.id))
            .set((
                users::deprovisioned_key.eq(Some(row.user_name_lower.clone())),
                users::user_name_lower.eq(format!("#deprovisioned:{}", row.scim_id)),
                users::email_lower.eq(None::<String>),
                users::external_id_lower.eq(None::<String>),
                users::deprovisioned_at.eq(Some(super::now())),
                users::updated_at.eq(super::now()),
                users::version.eq(users::version + 1),
            ))
            .execute(conn)
    }

    pub fn set_job_title(conn: &mut AnyConnection, id: i64, title: Option<&str>) -> QueryResult<usize> {
        diesel::update(users::table.find(id)).set(users::job_title.eq(title)).execute(conn)
    }

    pub fn set_role(conn: &mut AnyConnection, company: CompanyId, id: i64, role: Option<&str>) -> QueryResult<usize> {
        diesel::update(users::table.filter(users::company_id.eq(company.0)).filter(users::id.eq(id)))
            .set((users::role.eq(role), users::updated_at.eq(super::now())))
            .execute(conn)
    }

    /// A page of the company's people for the portal: search on userName, email and names,
    /// a status condition (from `provisioning::status`) and a source, by userName.
    pub fn portal_list(
        conn: &mut AnyConnection,
        company: CompanyId,
        search: &str,
        status: Option<crate::db::sql::Sql>,
        source: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(i64, Vec<UserRow>)> {
        let term = search.trim().to_lowercase();
        let query = || {
            let mut q = users::table.filter(users::company_id.eq(company.0)).into_boxed();
            if !term.is_empty() {
                let pattern = format!("%{}%", crate::db::like_escape(&term));
                q = q.filter(
                    users::user_name_lower
                        .like(pattern.clone())
                        .escape('\\')
                        .or(users::email_lower.like(pattern.clone()).escape('\\'))
                        .or(crate::db::lower(users::given_name.assume_not_null()).like(pattern.clone()).escape('\\'))
                        .or(crate::db::lower(users::family_name.assume_not_null()).like(pattern).escape('\\')),
                );
            }
            if let Some(condition) = status.clone() {
                q = q.filter(condition.typed::<diesel::sql_types::Bool>());
            }
            if let Some(source) = source {
                q = q.filter(users::source.eq(source.to_owned()));
            }
            q
        };
        let total = query().count().get_result(conn)?;
        let rows = query().select(UserRow::as_select()).order((users::user_name_lower, users::id)).offset(offset).limit(limit).load(conn)?;
        Ok((total, rows))
    }

    /// The company's person with this internal id (portal URLs), deprovisioned ones included.
    pub fn find_for_portal(conn: &mut AnyConnection, company: CompanyId, id: i64) -> QueryResult<Option<User>> {
        let row = users::table
            .filter(users::company_id.eq(company.0))
            .filter(users::id.eq(id))
            .select(UserRow::as_select())
            .first(conn)
            .optional()?;
        Ok(match row {
            Some(row) => User::assemble(conn, vec![row], true)?.pop(),
            None => None,
        })
    }

    /// Disables (or re-enables) a person in the portal; Entra's `active` is left untouched.
    pub fn set_disabled_by_admin(conn: &mut AnyConnection, company: CompanyId, id: i64, disabled: bool) -> QueryResult<usize> {
        let at = disabled.then(super::now);
        diesel::update(users::table.filter(users::company_id.eq(company.0)).filter(users::id.eq(id)))
            .set((users::disabled_at.eq(at), users::updated_at.eq(super::now())))
            .execute(conn)
    }

    /// How many of the company's people there are of each value of `key` (a SQL expression on
    /// `users` from `provisioning::status`), in one pass over them; values without people are
    /// left out.
    pub fn count_by(conn: &mut AnyConnection, company: CompanyId, key: crate::db::sql::Sql) -> QueryResult<Vec<(String, i64)>> {
        let key = key.typed::<diesel::sql_types::Text>();
        users::table
            .filter(users::company_id.eq(company.0))
            .group_by(key.clone())
            .select((key, diesel::dsl::count_star()))
            .load(conn)
    }

    /// The company's SCIM-visible people whose userName or externalId is `lookup`'s value:
    /// the lookup Entra makes before every create, as a statically typed query that stays
    /// prepared without its SQL being rendered again for each request.
    pub fn find_by_identity(conn: &mut AnyConnection, company: CompanyId, lookup: &IdentityLookup) -> QueryResult<Vec<UserRow>> {
        crate::per_backend!(conn, c => {
            let of_company = || {
                users::table
                    .filter(users::company_id.eq(company.0))
                    .filter(users::deprovisioned_at.is_null())
                    .order(users::id.asc())
                    .select(UserRow::as_select())
            };
            match lookup {
                IdentityLookup::UserName(lower) => of_company().filter(users::user_name_lower.eq(lower)).load(c),
                IdentityLookup::ExternalId(lower) => of_company().filter(users::external_id_lower.eq(lower)).load(c),
            }
        })
    }

    /// One page of the company's SCIM-visible people matching `filter` (SQL from
    /// `scim::query`), with the total when it is not obvious from the page.
    pub fn search(
        conn: &mut AnyConnection,
        company: CompanyId,
        filter: Option<crate::db::sql::Sql>,
        sort: Option<crate::db::sql::Sql>,
        offset: i64,
        limit: i64,
    ) -> QueryResult<(i64, Vec<UserRow>)> {
        use diesel::sql_types::{Bool, Text};
        crate::per_backend!(conn, c => {
            let base = || {
                let mut q = users::table
                    .filter(users::company_id.eq(company.0))
                    .filter(users::deprovisioned_at.is_null())
                    .into_boxed();
                if let Some(f) = filter.clone() {
                    q = q.filter(f.typed::<Bool>());
                }
                q
            };
            let rows: Vec<UserRow> = if limit == 0 {
                Vec::new()
            } else {
                let mut q = base().select(UserRow::as_select());
                if let Some(order) = sort {
                    q = q.order(order.typed::<Text>());
                    q = q.then_order_by(users::id.asc());
                } else {
                    q = q.order(users::id.asc());
                }
                q.offset(offset).limit(limit).load(c)?
            };
            // The page says it all when it is the first and not full: skip the COUNT.
            let total = if offset == 0 && (rows.len() as i64) < limit {
                rows.len() as i64
            } else {
                base().count().get_result(c)?
            };
            Ok((total, rows))
        })
    }
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The document of a person's SCIM attributes that are not columns: one JSON object with the
/// single-valued ones by path (`name.formatted`, `nickName`, `<urn>:department`) and the
/// multi-valued ones by name (`emails`, `phoneNumbers`, …), values exactly as sent.
fn document_of(attrs: &UserAttributes) -> String {
    struct Document<'a>(&'a UserAttributes);
    impl serde::Serialize for Document<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = serializer.serialize_map(Some(self.0.scalars.len() + self.0.multi.len()))?;
            for (path, value) in &self.0.scalars {
                map.serialize_entry(path, value)?;
            }
            for (name, elements) in &self.0.multi {
                map.serialize_entry(name, elements)?;
            }
            map.end()
        }
    }
    // Serializing maps of strings and JSON values cannot fail.
    serde_json::to_string(&Document(attrs)).unwrap_or_else(|_| "{}".to_owned())
}

impl UserRow {
    /// The person's SCIM attributes: the columns, and the document.
    pub fn attributes(&self) -> UserAttributes {
        let Document { scalars, multi } = serde_json::from_str(&self.scim_values).unwrap_or_else(|err| {
            tracing::error!(user = self.id, error = %err, "a person's stored SCIM document is not a JSON object");
            Document::default()
        });
        UserAttributes {
            user_name: self.user_name.clone(),
            external_id: self.external_id.clone(),
            active: self.scim_active,
            display_name: self.display_name.clone(),
            given_name: self.given_name.clone(),
            family_name: self.family_name.clone(),
            title: self.title.clone(),
            preferred_language: self.preferred_language.clone(),
            manager: self.manager_id.clone(),
            scalars,
            multi,
        }
    }
}

/// A person's stored document, read straight into their attribute maps (no map of its own in
/// between: every read of a person parses one).
#[derive(Default)]
struct Document {
    scalars: BTreeMap<String, Value>,
    multi: BTreeMap<String, Vec<Map<String, Value>>>,
}

impl<'de> serde::Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        struct Entries;
        impl<'de> serde::de::Visitor<'de> for Entries {
            type Value = Document;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> Result<Document, A::Error> {
                let mut document = Document::default();
                while let Some((key, value)) = entries.next_entry::<String, Value>()? {
                    match value {
                        Value::Array(items) if MULTI_VALUED.contains(&key.as_str()) => {
                            let elements = items.into_iter().filter_map(|item| match item {
                                Value::Object(element) => Some(element),
                                _ => None,
                            });
                            document.multi.insert(key, elements.collect());
                        }
                        value => {
                            document.scalars.insert(key, value);
                        }
                    }
                }
                Ok(document)
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// `row` as an update of its SCIM columns at `now` writes it, without reading it back.
fn written(row: &UserRow, identity: IdentityColumns, details: DetailColumns, now: NaiveDateTime) -> UserRow {
    let mut updated = row.clone();
    identity.apply(&mut updated);
    details.apply(&mut updated);
    updated.updated_at = now;
    updated.version = row.version + 1;
    updated
}

/// PostgreSQL: the person's INSERT, with their lookup rows and `event` in the same statement
/// when there is an event (see `one_trip`; without one the lookup rows follow).
fn insert_pg<const UNLESS_KNOWN: bool>(
    c: &mut diesel::PgConnection,
    (insert, lookups): (InsertPerson<'_, UNLESS_KNOWN>, Vec<LookupRow>),
    event: Option<&NewActivity>,
) -> QueryResult<Option<UserRow>> {
    match event {
        // The person's id is not known yet: the statement joins it in.
        Some(event) => CreatePerson { insert, lookups: LookupArrays::of(lookups), event }.get_result(c).optional(),
        None => {
            let row = insert.get_result::<UserRow>(c).optional()?;
            if let Some(row) = &row {
                insert_lookups_pg(c, &for_person(lookups, row))?;
            }
            Ok(row)
        }
    }
}

/// SQLite: the person's INSERT, their lookup rows and `event`, statement by statement.
fn insert_sqlite(
    conn: &mut AnyConnection,
    (insert, lookups): (InsertPerson<'_, false>, Vec<LookupRow>),
    event: Option<NewActivity>,
) -> QueryResult<UserRow> {
    let AnyConnection::Sqlite(c) = conn else { return Err(diesel::result::Error::BrokenTransactionManager) };
    InsertValues(&insert).execute(c)?;
    let id = LastInsertRowid.get_result::<i64>(c)?;
    let row = insert.into_row(id);
    insert_lookups(conn, &for_person(lookups, &row))?;
    if let Some(event) = event {
        event.about(&row).insert(conn)?;
    }
    Ok(row)
}

/// Lookup rows made before the person was written, as theirs.
fn for_person(mut rows: Vec<LookupRow>, person: &UserRow) -> Vec<LookupRow> {
    for row in &mut rows {
        row.user_id = person.id;
        row.company_id = person.company_id;
    }
    rows
}

/// The indexed values of `attrs` for the person `user_id` of `company_id`: each email, and each
/// extension attribute.
fn lookup_rows(user_id: i64, company_id: i64, attrs: &UserAttributes) -> Vec<LookupRow> {
    let lookup = |attribute: &str, position: usize, value: Option<&Value>| LookupRow {
        user_id,
        attribute: attribute.to_owned(),
        position: i32::try_from(position).unwrap_or(i32::MAX),
        company_id,
        value_lower: text(value).map(|v| v.to_lowercase()),
        type_: None,
        is_primary: None,
        display: None,
    };
    let emails = attrs.multi.get(INDEXED_MULTI_VALUED).map(Vec::as_slice).unwrap_or_default();
    let mut rows: Vec<LookupRow> = emails
        .iter()
        .enumerate()
        .map(|(i, email)| LookupRow {
            type_: text(email.get("type")),
            is_primary: email.get("primary").and_then(Value::as_bool),
            display: text(email.get("display")),
            ..lookup(INDEXED_MULTI_VALUED, i, email.get("value"))
        })
        .collect();
    rows.extend(attrs.scalars.iter().filter(|(path, _)| is_extension_path(path)).map(|(path, value)| lookup(path, 0, Some(value))));
    rows
}

fn insert_lookups(conn: &mut AnyConnection, rows: &[LookupRow]) -> QueryResult<()> {
    match conn {
        AnyConnection::Postgresql(c) => insert_lookups_pg(c, rows)?,
        // SQLite has no round trips, and prepares a multi-row INSERT anew every time (diesel
        // does not cache it): one cached single-row statement per value is cheaper.
        AnyConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(user_lookups::table).values(row).execute(c)?;
            }
        }
    }
    Ok(())
}

/// One round trip for all rows.
fn insert_lookups_pg(c: &mut diesel::PgConnection, rows: &[LookupRow]) -> QueryResult<()> {
    if !rows.is_empty() {
        diesel::insert_into(user_lookups::table).values(rows).execute(c)?;
    }
    Ok(())
}

/// What a change of attributes does to a person's lookup rows (a PATCH usually changes none
/// or one): only these rows are written.
#[derive(Default)]
struct LookupChanges {
    changed: Vec<LookupRow>,
    added: Vec<LookupRow>,
    removed: Vec<LookupRow>,
}

impl LookupChanges {
    fn between(before: Vec<LookupRow>, after: Vec<LookupRow>) -> LookupChanges {
        let mut stored: HashMap<(String, i32), LookupRow> = before.into_iter().map(|r| ((r.attribute.clone(), r.position), r)).collect();
        let mut changes = LookupChanges::default();
        for wanted in after {
            match stored.remove(&(wanted.attribute.clone(), wanted.position)) {
                Some(old) if old == wanted => {}
                Some(_) => changes.changed.push(wanted),
                None => changes.added.push(wanted),
            }
        }
        changes.removed = stored.into_values().collect();
        changes
    }

    /// One statement per row: on SQLite a cached single-row statement is the cheapest.
    fn write(self, conn: &mut AnyConnection) -> QueryResult<()> {
        for wanted in &self.changed {
            let this = user_lookups::user_id
                .eq(wanted.user_id)
                .and(user_lookups::attribute.eq(&wanted.attribute))
                .and(user_lookups::position.eq(wanted.position));
            crate::per_backend!(&mut *conn, c => cached_update(user_lookups::table, wanted.content(), this).execute(c))?;
        }
        for gone in &self.removed {
            crate::per_backend!(&mut *conn, c => diesel::delete(user_lookups::table.find((gone.user_id, &gone.attribute, gone.position))).execute(c))?;
        }
        insert_lookups(conn, &self.added)
    }

    /// Rows to upsert (changed and added) and the keys of rows to delete, for `one_trip`.
    fn into_arrays(self) -> (LookupArrays, (Vec<String>, Vec<i32>)) {
        let removed = self.removed.into_iter().map(|r| (r.attribute, r.position)).unzip();
        (LookupArrays::of(self.changed.into_iter().chain(self.added)), removed)
    }
}

#[cfg(test)]
mod tests {
    use super::PersonColumns;
    use crate::scim::user_json::parse_user;

    fn attributes(email: &str, department: &str) -> crate::domain::UserAttributes {
        parse_user(&serde_json::json!({
            "userName": "ann@example.com",
            "emails": [{"type": "work", "value": email, "primary": true}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": department},
        }))
        .expect("a valid person")
    }

    #[test]
    fn columns_describe_the_attributes_they_were_made_of_and_no_others() {
        let ann = attributes("ann@example.com", "Sales");
        assert!(PersonColumns::of(&ann).describe(&ann));
        assert!(!PersonColumns::of(&ann).describe(&attributes("ann@example.org", "Sales")), "another email (a column)");
        assert!(!PersonColumns::of(&ann).describe(&attributes("ann@example.com", "Legal")), "another department (a lookup)");
    }

    #[test]
    fn a_stored_document_is_read_into_single_and_multi_valued_attributes() {
        use super::Document;
        let text = r#"{"emails":[{"value":"a@example.com"},"stray"],"nickName":"Ann","x509Certificates":"not a list",
            "urn:example:custom:1.0:User:tags":["a","b"],"name.formatted":"Ann Lee"}"#;
        let Document { scalars, multi } = serde_json::from_str(text).expect("an object");
        assert_eq!(multi.keys().collect::<Vec<_>>(), ["emails"]);
        assert_eq!(multi["emails"].len(), 1, "only objects are elements");
        assert_eq!(scalars["nickName"], "Ann");
        assert_eq!(scalars["x509Certificates"], "not a list", "a multi-valued name that is not a list stays as sent");
        assert_eq!(scalars["urn:example:custom:1.0:User:tags"], serde_json::json!(["a", "b"]), "extension lists are single values");
        assert_eq!(scalars["name.formatted"], "Ann Lee");
        assert!(serde_json::from_str::<Document>("[1]").is_err());
    }
}
