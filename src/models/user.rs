//! People of a company: the `users` row (product state + the SCIM attributes that are
//! columns) and their `user_values` rows (everything else SCIM sent).

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::CompanyId;
use crate::db::AnyConnection;
use crate::db::update::cached_update;
use crate::db::schema::{user_values, users};
use crate::domain::{MULTI_VALUED, UserAttributes, new_scim_id};

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
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = user_values)]
pub struct ValueRow {
    pub id: i64,
    pub user_id: i64,
    pub company_id: i64,
    pub attribute: String,
    pub position: i32,
    pub type_: Option<String>,
    pub is_primary: Option<bool>,
    pub value: Option<String>,
    pub value_lower: Option<String>,
    pub display: Option<String>,
    pub formatted: Option<String>,
    pub street_address: Option<String>,
    pub locality: Option<String>,
    pub region: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub raw_json: Option<String>,
}

// `None` is NULL, not DEFAULT: every row is the same statement (one cached INSERT on
// SQLite) and rows can share one multi-row INSERT (PostgreSQL).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = user_values, treat_none_as_default_value = false)]
struct NewValue {
    user_id: i64,
    company_id: i64,
    attribute: String,
    position: i32,
    type_: Option<String>,
    is_primary: Option<bool>,
    value: Option<String>,
    value_lower: Option<String>,
    display: Option<String>,
    formatted: Option<String>,
    street_address: Option<String>,
    locality: Option<String>,
    region: Option<String>,
    postal_code: Option<String>,
    country: Option<String>,
    raw_json: Option<String>,
}

/// What a value row holds besides its key (person, attribute, position): the columns an
/// update of a value sets, which leaves the row's entry in the per-person index alone.
#[derive(PartialEq, AsChangeset)]
#[diesel(table_name = user_values, treat_none_as_null = true)]
struct ValueContent<'a> {
    type_: Option<&'a str>,
    is_primary: Option<bool>,
    value: Option<&'a str>,
    value_lower: Option<&'a str>,
    display: Option<&'a str>,
    formatted: Option<&'a str>,
    street_address: Option<&'a str>,
    locality: Option<&'a str>,
    region: Option<&'a str>,
    postal_code: Option<&'a str>,
    country: Option<&'a str>,
    raw_json: Option<&'a str>,
}

/// `ValueContent` of a stored (`ValueRow`) or wanted (`NewValue`) value.
macro_rules! value_content {
    ($($row:ty),*) => {$(
        impl $row {
            fn content(&self) -> ValueContent<'_> {
                ValueContent {
                    type_: self.type_.as_deref(),
                    is_primary: self.is_primary,
                    value: self.value.as_deref(),
                    value_lower: self.value_lower.as_deref(),
                    display: self.display.as_deref(),
                    formatted: self.formatted.as_deref(),
                    street_address: self.street_address.as_deref(),
                    locality: self.locality.as_deref(),
                    region: self.region.as_deref(),
                    postal_code: self.postal_code.as_deref(),
                    country: self.country.as_deref(),
                    raw_json: self.raw_json.as_deref(),
                }
            }
        }
    )*};
}
value_content!(ValueRow, NewValue);

/// The SCIM columns of `users` that identify a person: each has a unique index per company.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct IdentityColumns {
    user_name: String,
    user_name_lower: String,
    external_id: Option<String>,
    external_id_lower: Option<String>,
    email: Option<String>,
    email_lower: Option<String>,
}

/// The other SCIM columns of `users`.
#[derive(AsChangeset, Insertable)]
#[diesel(table_name = users, treat_none_as_null = true)]
struct DetailColumns {
    display_name: Option<String>,
    given_name: Option<String>,
    family_name: Option<String>,
    title: Option<String>,
    preferred_language: Option<String>,
    manager_id: Option<String>,
    scim_active: Option<bool>,
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
    }
}

/// Product state of a new person.
pub struct NewPerson<'a> {
    pub attributes: &'a UserAttributes,
    pub source: &'a str,
    pub role: Option<&'a str>,
    pub job_title: Option<&'a str>,
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
    /// Inserts the person and their values; returns the stored row.
    pub fn insert(conn: &mut AnyConnection, company: CompanyId, person: NewPerson<'_>) -> QueryResult<User> {
        let now = super::now();
        let row: UserRow = crate::per_backend!(conn, c => diesel::insert_into(users::table)
            .values((
                users::company_id.eq(company.0),
                users::scim_id.eq(new_scim_id()),
                IdentityColumns::of(person.attributes),
                DetailColumns::of(person.attributes),
                users::source.eq(person.source),
                users::role.eq(person.role),
                users::job_title.eq(person.job_title),
                users::created_at.eq(now),
                users::updated_at.eq(now),
                users::version.eq(1i64),
            ))
            .returning(users::all_columns)
            .get_result(c))?;
        insert_values(conn, &row, person.attributes)?;
        Ok(User { row, attributes: person.attributes.clone(), groups: Vec::new() })
    }

    /// Replaces the SCIM attributes if the stored version is still `row.version`, bumping it.
    /// Returns `None` when someone else changed the person first (the caller retries). In the
    /// returned row the SCIM columns, `updated_at` and `version` are what was written; the
    /// product columns (role, job title, disabled) are as `row` had them, since portal changes
    /// to those do not bump the version.
    pub fn update_attributes(conn: &mut AnyConnection, row: &UserRow, attrs: &UserAttributes) -> QueryResult<Option<UserRow>> {
        let identity = IdentityColumns::of(attrs);
        let details = DetailColumns::of(attrs);
        let now = super::now();
        let stamp = (users::updated_at.eq(now), users::version.eq(row.version + 1));
        let current = users::id.eq(row.id).and(users::version.eq(row.version));
        // Setting a column rewrites its index entry even to the same value, a random page of
        // the WAL each: most changes (title, manager, active) leave the identity alone.
        let same_identity = identity.matches(row);
        let changed = crate::per_backend!(conn, c => if same_identity {
            cached_update(users::table, (&details, stamp), current).execute(c)
        } else {
            cached_update(users::table, (&identity, &details, stamp), current).execute(c)
        })?;
        if changed == 0 {
            return Ok(None);
        }
        // The row as just written, without reading it back.
        let mut updated = row.clone();
        identity.apply(&mut updated);
        details.apply(&mut updated);
        updated.updated_at = now;
        updated.version = row.version + 1;
        sync_values(conn, &updated, attrs)?;
        Ok(Some(updated))
    }

    /// Loads the values of `rows` in one query and assembles the people, in `rows` order.
    /// Their groups are loaded only `with_groups` (the company provisions groups; otherwise
    /// memberships are kept but not shown, as the company's `/Groups` is closed).
    pub fn assemble(conn: &mut AnyConnection, rows: Vec<UserRow>, with_groups: bool) -> QueryResult<Vec<User>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        let values = load_values(conn, &ids)?;
        let mut by_user: HashMap<i64, Vec<ValueRow>> = HashMap::new();
        for value in values {
            by_user.entry(value.user_id).or_default().push(value);
        }
        let mut groups: HashMap<i64, Vec<(String, String)>> = HashMap::new();
        if with_groups && !ids.is_empty() {
            for (user_id, scim_id, name) in super::group::Group::of_users(conn, &ids)? {
                groups.entry(user_id).or_default().push((scim_id, name));
            }
        }
        Ok(rows
            .into_iter()
            .map(|row| {
                let values = by_user.remove(&row.id).unwrap_or_default();
                let attributes = attributes_of(&row, values);
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
    /// Present people of the company with this userName or email (case-insensitive): the
    /// candidates a create links to instead of duplicating.
    pub fn find_matches(conn: &mut AnyConnection, company: CompanyId, user_name_lower: &str, email_lower: Option<&str>) -> QueryResult<Vec<UserRow>> {
        // Two unique-index lookups rather than one `a = ? OR b = ?`: PostgreSQL, planning from
        // statistics taken while the table was small, scanned every person for the OR.
        let (mut rows, by_email) = crate::per_backend!(conn, c => {
            let of_company = || users::table.filter(users::company_id.eq(company.0)).select(UserRow::as_select());
            let by_name: Vec<UserRow> = of_company().filter(users::user_name_lower.eq(user_name_lower)).load(c)?;
            let by_email: Vec<UserRow> = match email_lower {
                Some(email) => of_company().filter(users::email_lower.eq(email)).load(c)?,
                None => Vec::new(),
            };
            QueryResult::Ok((by_name, by_email))
        })?;
        for row in by_email {
            if !rows.iter().any(|r| r.id == row.id) {
                rows.push(row);
            }
        }
        rows.sort_by_key(|r| r.id);
        Ok(rows)
    }

    /// The most recently deprovisioned person who had this userName, if any.
    pub fn find_deprovisioned(conn: &mut AnyConnection, company: CompanyId, user_name_lower: &str) -> QueryResult<Option<UserRow>> {
        crate::per_backend!(conn, c => users::table
            .filter(users::company_id.eq(company.0))
            .filter(users::deprovisioned_key.eq(user_name_lower))
            .order(users::id.desc())
            .select(UserRow::as_select())
            .first(c)
            .optional())
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

    /// How many of the company's people match `condition` (SQL from `provisioning::status`).
    pub fn count_where(conn: &mut AnyConnection, company: CompanyId, condition: crate::db::sql::Sql) -> QueryResult<i64> {
        users::table
            .filter(users::company_id.eq(company.0))
            .filter(condition.typed::<diesel::sql_types::Bool>())
            .count()
            .get_result(conn)
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

/// Column-friendly sub-attributes of a multi-valued element; anything else (or a non-string
/// value) makes the element be kept whole in `raw_json`.
const ELEMENT_KEYS: [&str; 10] =
    ["value", "display", "type", "primary", "formatted", "streetAddress", "locality", "region", "postalCode", "country"];

fn element_row(row: &UserRow, attribute: &str, position: usize, element: &Map<String, Value>) -> NewValue {
    let fits = element.iter().all(|(k, v)| {
        ELEMENT_KEYS.contains(&k.as_str()) && if k == "primary" { v.is_boolean() } else { v.is_string() }
    });
    let value = text(element.get("value"));
    NewValue {
        user_id: row.id,
        company_id: row.company_id,
        attribute: attribute.to_owned(),
        position: i32::try_from(position).unwrap_or(i32::MAX),
        type_: text(element.get("type")),
        is_primary: element.get("primary").and_then(Value::as_bool),
        value_lower: value.as_ref().map(|v| v.to_lowercase()),
        value,
        display: text(element.get("display")),
        formatted: text(element.get("formatted")),
        street_address: text(element.get("streetAddress")),
        locality: text(element.get("locality")),
        region: text(element.get("region")),
        postal_code: text(element.get("postalCode")),
        country: text(element.get("country")),
        raw_json: (!fits).then(|| Value::Object(element.clone()).to_string()),
    }
}

fn scalar_row(row: &UserRow, path: &str, value: &Value) -> NewValue {
    let as_text = text(Some(value));
    NewValue {
        user_id: row.id,
        company_id: row.company_id,
        attribute: path.to_owned(),
        position: 0,
        type_: None,
        is_primary: None,
        value_lower: as_text.as_ref().map(|v| v.to_lowercase()),
        value: as_text,
        display: None,
        formatted: None,
        street_address: None,
        locality: None,
        region: None,
        postal_code: None,
        country: None,
        raw_json: (!value.is_string()).then(|| value.to_string()),
    }
}

/// The stored values of these people, by person, attribute and position.
fn load_values(conn: &mut AnyConnection, ids: &[i64]) -> QueryResult<Vec<ValueRow>> {
    crate::per_backend!(conn, c => {
        let query = || {
            user_values::table
                .order((user_values::user_id, user_values::attribute, user_values::position))
                .select(ValueRow::as_select())
        };
        // One person (most SCIM requests) gets `= ?`: a statement SQLite keeps prepared,
        // where an `IN (…)` list is prepared anew for every request.
        match ids {
            [] => Ok(Vec::new()),
            [id] => query().filter(user_values::user_id.eq(*id)).load(c),
            _ => query().filter(user_values::user_id.eq_any(ids)).load(c),
        }
    })
}

/// The `user_values` rows that store `attrs` for the person `row`.
fn value_rows(row: &UserRow, attrs: &UserAttributes) -> Vec<NewValue> {
    let mut rows: Vec<NewValue> = Vec::new();
    for (attribute, elements) in &attrs.multi {
        rows.extend(elements.iter().enumerate().map(|(i, e)| element_row(row, attribute, i, e)));
    }
    rows.extend(attrs.scalars.iter().map(|(path, value)| scalar_row(row, path, value)));
    rows
}

fn insert_values(conn: &mut AnyConnection, row: &UserRow, attrs: &UserAttributes) -> QueryResult<()> {
    insert_value_rows(conn, &value_rows(row, attrs))
}

fn insert_value_rows(conn: &mut AnyConnection, rows: &[NewValue]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    match conn {
        // One round trip for all rows.
        AnyConnection::Postgresql(c) => {
            diesel::insert_into(user_values::table).values(rows).execute(c)?;
        }
        // SQLite has no round trips, and prepares a multi-row INSERT anew every time (diesel
        // does not cache it): one cached single-row statement per value is cheaper.
        AnyConnection::Sqlite(c) => {
            for row in rows {
                diesel::insert_into(user_values::table).values(row).execute(c)?;
            }
        }
    }
    Ok(())
}

/// Brings the person's stored values in line with `attrs`, writing only the rows that
/// changed: a PATCH from Entra usually changes one value, and rewriting every row moved an
/// entry in the value lookup index (a random page of the WAL) per value.
fn sync_values(conn: &mut AnyConnection, row: &UserRow, attrs: &UserAttributes) -> QueryResult<()> {
    let mut stored: HashMap<(String, i32), ValueRow> = HashMap::new();
    let mut gone: Vec<i64> = Vec::new();
    for value in load_values(conn, &[row.id])? {
        if let Some(twin) = stored.insert((value.attribute.clone(), value.position), value) {
            gone.push(twin.id);
        }
    }
    let mut added: Vec<NewValue> = Vec::new();
    for wanted in value_rows(row, attrs) {
        match stored.remove(&(wanted.attribute.clone(), wanted.position)) {
            Some(old) if wanted.content() == old.content() => {}
            Some(old) => {
                crate::per_backend!(&mut *conn, c => cached_update(user_values::table, wanted.content(), user_values::id.eq(old.id)).execute(c))?;
            }
            None => added.push(wanted),
        }
    }
    gone.extend(stored.into_values().map(|v| v.id));
    for id in gone {
        crate::per_backend!(&mut *conn, c => diesel::delete(user_values::table.find(id)).execute(c))?;
    }
    insert_value_rows(conn, &added)
}

fn element_of(value: ValueRow) -> Map<String, Value> {
    if let Some(element) = value.raw_json.as_deref().and_then(|raw| serde_json::from_str(raw).ok()) {
        return element;
    }
    let mut element = Map::new();
    let mut put = |key: &str, v: Option<String>| {
        if let Some(v) = v {
            element.insert(key.to_owned(), Value::String(v));
        }
    };
    put("value", value.value);
    put("display", value.display);
    put("type", value.type_);
    put("formatted", value.formatted);
    put("streetAddress", value.street_address);
    put("locality", value.locality);
    put("region", value.region);
    put("postalCode", value.postal_code);
    put("country", value.country);
    if let Some(primary) = value.is_primary {
        element.insert("primary".to_owned(), Value::Bool(primary));
    }
    element
}

fn attributes_of(row: &UserRow, values: Vec<ValueRow>) -> UserAttributes {
    let mut scalars = BTreeMap::new();
    let mut multi: BTreeMap<String, Vec<Map<String, Value>>> = BTreeMap::new();
    for value in values {
        if MULTI_VALUED.contains(&value.attribute.as_str()) {
            multi.entry(value.attribute.clone()).or_default().push(element_of(value));
        } else {
            let parsed = match value.raw_json.as_deref().and_then(|raw| serde_json::from_str(raw).ok()) {
                Some(json) => json,
                None => Value::String(value.value.unwrap_or_default()),
            };
            scalars.insert(value.attribute, parsed);
        }
    }
    UserAttributes {
        user_name: row.user_name.clone(),
        external_id: row.external_id.clone(),
        active: row.scim_active,
        display_name: row.display_name.clone(),
        given_name: row.given_name.clone(),
        family_name: row.family_name.clone(),
        title: row.title.clone(),
        preferred_language: row.preferred_language.clone(),
        manager: row.manager_id.clone(),
        scalars,
        multi,
    }
}
