//! SCIM filters and sorting translated to SQL with bound parameters, run in the database
//! (indexed lookups for what Entra may match on: userName, externalId, emails, extension
//! attributes; nothing is filtered in memory). Attribute names resolve case-insensitively
//! against the schema.

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::{self, ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA};
use crate::db::sql::Sql;
use crate::domain::INDEXED_MULTI_VALUED;
use crate::models::CompanyId;
use crate::models::user::IdentityLookup;

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidFilter, detail)
}

/// How a value is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Compared lower-cased on both sides (`expr` is already lower-case).
    TextCi,
    TextExact,
    Bool,
    Time,
}

/// Where an attribute lives in the database.
enum Place {
    /// An expression over the `users` row.
    Column(&'static str, Kind),
    /// Indexed rows with this attribute key (`user_lookups` for users, members for groups):
    /// (key, compare the key case-insensitively).
    Rows(String, bool),
    /// A value in the person's JSON document (`users.scim_values`) under this canonical key:
    /// the elements of a multi-valued attribute (`true`), or one single value whose path
    /// names no further sub-attribute. Not indexed: Entra never matches on these, and the
    /// company's people are all that is read.
    Document(String, bool),
    /// A constant answer (e.g. `meta.resourceType eq "User"`).
    Constant(&'static str),
}

fn resolve(path: &AttrPath) -> Result<Place, ScimError> {
    let (urn, name, sub) = (path.urn.as_deref(), path.name.as_str(), path.sub.as_deref());
    // Legacy Entra checks name enterprise attributes without their URN (`manager eq "…"`).
    let is_core = |n: &str| schema::find(USER_ATTRIBUTES, n).is_some() || ["id", "externalId", "meta"].iter().any(|c| c.eq_ignore_ascii_case(n));
    let urn = match urn {
        None if !is_core(name) && schema::find(ENTERPRISE_ATTRIBUTES, name).is_some() => Some(ENTERPRISE_SCHEMA),
        other => other,
    };
    let unknown = || invalid(format!("unknown attribute {:?} in filter", display(path)));
    let core = match urn {
        None => true,
        Some(u) if u.eq_ignore_ascii_case(USER_SCHEMA) => true,
        Some(u) if u.eq_ignore_ascii_case(ENTERPRISE_SCHEMA) => {
            let def = schema::find(ENTERPRISE_ATTRIBUTES, name).ok_or_else(unknown)?;
            return Ok(match (def.name, sub) {
                ("manager", None) => Place::Column("users.manager_id", Kind::TextExact),
                ("manager", Some(s)) if s.eq_ignore_ascii_case("value") => Place::Column("users.manager_id", Kind::TextExact),
                ("manager", Some(_)) => return Err(unknown()),
                (n, _) => Place::Rows(format!("{ENTERPRISE_SCHEMA}:{n}"), false),
            });
        }
        Some(u) => return Ok(Place::Rows(format!("{u}:{name}").to_lowercase(), true)),
    };
    debug_assert!(core);
    if name.eq_ignore_ascii_case("id") {
        return Ok(Place::Column("users.scim_id", Kind::TextExact));
    }
    if name.eq_ignore_ascii_case("externalId") {
        return Ok(Place::Column("users.external_id_lower", Kind::TextCi));
    }
    if name.eq_ignore_ascii_case("meta") {
        return match sub.map(str::to_ascii_lowercase).as_deref() {
            Some("created") => Ok(Place::Column("users.created_at", Kind::Time)),
            Some("lastmodified") => Ok(Place::Column("users.updated_at", Kind::Time)),
            Some("resourcetype") => Ok(Place::Constant("User")),
            _ => Err(unknown()),
        };
    }
    let def = schema::find(USER_ATTRIBUTES, name).ok_or_else(unknown)?;
    if def.multi {
        if def.name == "groups" {
            return Err(invalid("filtering on groups is not supported"));
        }
        return Ok(if def.name == INDEXED_MULTI_VALUED { Place::Rows(def.name.to_owned(), false) } else { Place::Document(def.name.to_owned(), true) });
    }
    Ok(match (def.name, sub) {
        ("userName", None) => Place::Column("users.user_name_lower", Kind::TextCi),
        ("displayName", None) => Place::Column("lower(users.display_name)", Kind::TextCi),
        ("title", None) => Place::Column("lower(users.title)", Kind::TextCi),
        ("preferredLanguage", None) => Place::Column("lower(users.preferred_language)", Kind::TextCi),
        ("active", None) => Place::Column("users.scim_active", Kind::Bool),
        ("password", _) => return Err(invalid("password cannot be filtered on")),
        ("name", Some(s)) => {
            let part = schema::find(def.sub, s).ok_or_else(unknown)?;
            match part.name {
                "givenName" => Place::Column("lower(users.given_name)", Kind::TextCi),
                "familyName" => Place::Column("lower(users.family_name)", Kind::TextCi),
                other => Place::Document(format!("name.{other}"), false),
            }
        }
        ("name", None) => return Err(invalid("name is complex: filter on a sub-attribute such as name.familyName")),
        (other, None) => Place::Document(other.to_owned(), false),
        (_, Some(_)) => return Err(unknown()),
    })
}

fn display(path: &AttrPath) -> String {
    let mut out = String::new();
    if let Some(u) = &path.urn {
        out.push_str(u);
        out.push(':');
    }
    out.push_str(&path.name);
    if let Some(s) = &path.sub {
        out.push('.');
        out.push_str(s);
    }
    out
}

/// The column of `user_lookups` for a sub-attribute of an email (or an extension value).
fn element_column(sub: Option<&str>) -> Result<(Expr, Kind), ScimError> {
    let Some(sub) = sub else { return Ok((Expr::Same("v.value_lower"), Kind::TextCi)) };
    Ok(match sub.to_ascii_lowercase().as_str() {
        "value" => (Expr::Same("v.value_lower"), Kind::TextCi),
        "display" => (Expr::Same("lower(v.display)"), Kind::TextCi),
        "type" => (Expr::Same("lower(v.type)"), Kind::TextCi),
        "primary" => (Expr::Same("v.is_primary"), Kind::Bool),
        other => return Err(invalid(format!("unknown sub-attribute {other:?} in filter"))),
    })
}

/// Sub-attributes of multi-valued elements, by their canonical (stored) names.
const ELEMENT_KEYS: [&str; 9] = ["value", "display", "type", "formatted", "streetAddress", "locality", "region", "postalCode", "country"];

/// An element's sub-attribute in the person's document (`e` in [`document_subquery`]); a
/// single value is its own `value`.
fn document_element(sub: Option<&str>) -> Result<(Expr, Kind), ScimError> {
    let sub = sub.unwrap_or("value");
    if sub.eq_ignore_ascii_case("primary") {
        let sqlite = "(CASE e.type WHEN 'object' THEN json_extract(e.value, '$.primary') END)";
        let postgres = "(CASE jsonb_typeof(e.v -> 'primary') WHEN 'boolean' THEN (e.v ->> 'primary')::boolean END)";
        return Ok((Expr::PerBackend { sqlite: sqlite.into(), postgres: postgres.into() }, Kind::Bool));
    }
    let key = ELEMENT_KEYS
        .iter()
        .find(|k| k.eq_ignore_ascii_case(sub))
        .ok_or_else(|| invalid(format!("unknown sub-attribute {sub:?} in filter")))?;
    // `key` is one of ours: safe to write into the SQL text.
    let (sqlite, postgres) = if *key == "value" {
        (
            "lower(CASE e.type WHEN 'object' THEN json_extract(e.value, '$.value') ELSE e.atom END)".to_owned(),
            "lower(CASE jsonb_typeof(e.v) WHEN 'object' THEN e.v ->> 'value' ELSE e.v #>> '{}' END)".to_owned(),
        )
    } else {
        (format!("lower(CASE e.type WHEN 'object' THEN json_extract(e.value, '$.{key}') END)"), format!("lower(e.v ->> '{key}')"))
    };
    Ok((Expr::PerBackend { sqlite: sqlite.into(), postgres: postgres.into() }, Kind::TextCi))
}

/// `FROM … WHERE …` over the elements (`e`) of the person's document under `key`: the
/// elements of a multi-valued attribute, or the one single value. More conditions may follow
/// with `AND`.
fn document_elements(key: String) -> Sql {
    let sqlite = Sql::seq([Sql::raw(" FROM json_each(users.scim_values, "), Sql::Text(format!("$.\"{key}\"")), Sql::raw(") e WHERE TRUE")]);
    let postgres = Sql::seq([
        Sql::raw(" FROM (SELECT users.scim_values::jsonb -> "),
        Sql::Text(key),
        Sql::raw(" AS a) d, jsonb_array_elements(CASE jsonb_typeof(d.a) WHEN 'array' THEN d.a ELSE jsonb_build_array(d.a) END) AS e(v) WHERE d.a IS NOT NULL"),
    ]);
    Sql::per_backend(sqlite, postgres)
}

/// Whether some element of the person's document under `key` meets `condition` (on `e`).
fn document_subquery(key: String, condition: Sql) -> Sql {
    Sql::seq([Sql::raw("EXISTS (SELECT 1"), document_elements(key), Sql::raw(" AND ("), condition, Sql::raw("))")])
}

/// A column or expression: the same on both backends, or written for each.
#[derive(Clone)]
enum Expr {
    Same(&'static str),
    PerBackend { sqlite: Cow<'static, str>, postgres: Cow<'static, str> },
}

impl Expr {
    /// `template` applied to the expression, on each backend.
    fn sql(&self, template: impl Fn(&str) -> String) -> Sql {
        match self {
            Expr::Same(column) => Sql::raw_owned(template(column)),
            Expr::PerBackend { sqlite, postgres } => Sql::per_backend(Sql::raw_owned(template(sqlite)), Sql::raw_owned(template(postgres))),
        }
    }
}

/// How one resource type's attributes map to SQL.
struct Dialect {
    resolve: fn(&AttrPath) -> Result<Place, ScimError>,
    element_column: fn(Option<&str>) -> Result<(Expr, Kind), ScimError>,
    subquery: fn(CompanyId, String, bool, Sql) -> Sql,
}

const USERS: Dialect = Dialect { resolve, element_column, subquery: lookups_subquery };
const GROUPS: Dialect = Dialect { resolve: resolve_group, element_column: member_column, subquery: members_subquery };

/// The filter of a list request, parsed (`None` when it is absent or blank).
pub fn list_filter(text: Option<&str>) -> Result<Option<Filter>, ScimError> {
    match text.map(str::trim).filter(|f| !f.is_empty()) {
        Some(text) => Ok(Some(super::filter::parse_filter(text).map_err(|e| invalid(format!("invalid filter: {e}")))?)),
        None => Ok(None),
    }
}

/// `filter` as a single indexed identity lookup, when it is exactly `userName eq "…"` or
/// `externalId eq "…"` (what Entra asks before every create); other filters go through SQL.
pub fn identity_lookup(filter: &Filter) -> Option<IdentityLookup> {
    let Filter::Compare(path, CompareOp::Eq, CompValue::String(value)) = filter else { return None };
    match resolve(path).ok()? {
        Place::Column("users.user_name_lower", Kind::TextCi) => Some(IdentityLookup::UserName(value.to_lowercase())),
        Place::Column("users.external_id_lower", Kind::TextCi) => Some(IdentityLookup::ExternalId(value.to_lowercase())),
        _ => None,
    }
}

/// The WHERE condition for `filter` over the company's users.
pub fn user_filter(filter: &Filter, company: CompanyId) -> Result<Sql, ScimError> {
    to_sql(&USERS, filter, company)
}

/// The WHERE condition for `filter` over the company's groups.
pub fn group_filter(filter: &Filter, company: CompanyId) -> Result<Sql, ScimError> {
    to_sql(&GROUPS, filter, company)
}

fn to_sql(d: &Dialect, filter: &Filter, company: CompanyId) -> Result<Sql, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Sql::seq([Sql::raw("("), to_sql(d, a, company)?, Sql::raw(" AND "), to_sql(d, b, company)?, Sql::raw(")")]),
        Filter::Or(a, b) => Sql::seq([Sql::raw("("), to_sql(d, a, company)?, Sql::raw(" OR "), to_sql(d, b, company)?, Sql::raw(")")]),
        Filter::Not(f) => Sql::seq([Sql::raw("NOT COALESCE(("), to_sql(d, f, company)?, Sql::raw("), FALSE)")]),
        Filter::ValuePath(path, inner) => on_elements(d, company, (d.resolve)(path)?, path, |columns| element_filter(columns, inner))?,
        Filter::Present(path) => match (d.resolve)(path)? {
            Place::Column(column, kind) => present(&Expr::Same(column), kind),
            Place::Constant(_) => Sql::raw("TRUE"),
            place => on_elements(d, company, place, path, |columns| {
                let (column, kind) = columns(path.sub.as_deref())?;
                Ok(present(&column, kind))
            })?,
        },
        Filter::Compare(path, op, value) => match (d.resolve)(path)? {
            Place::Column(column, kind) => compare(&Expr::Same(column), kind, *op, value)?,
            Place::Constant(constant) => {
                let matches = matches!(value, CompValue::String(s) if s.eq_ignore_ascii_case(constant));
                Sql::raw(if matches == (*op == CompareOp::Eq) { "TRUE" } else { "FALSE" })
            }
            place => on_elements(d, company, place, path, |columns| {
                let (column, kind) = columns(path.sub.as_deref())?;
                compare(&column, kind, *op, value)
            })?,
        },
    })
}

/// How the sub-attributes of a place's elements are written in SQL.
type Columns = fn(Option<&str>) -> Result<(Expr, Kind), ScimError>;

/// Whether some element of the multi-valued (or extra single-valued) attribute at `place`
/// (resolved from `path`) meets the condition `condition` writes with the place's columns.
fn on_elements(
    d: &Dialect,
    company: CompanyId,
    place: Place,
    path: &AttrPath,
    condition: impl FnOnce(Columns) -> Result<Sql, ScimError>,
) -> Result<Sql, ScimError> {
    match place {
        Place::Rows(key, ci) => Ok((d.subquery)(company, key, ci, condition(d.element_column)?)),
        Place::Document(key, true) => Ok(document_subquery(key, condition(document_element)?)),
        Place::Document(key, false) => Ok(document_subquery(key, condition(|_| document_element(None))?)),
        Place::Column(..) | Place::Constant(_) => {
            Err(invalid(format!("{} is not multi-valued: it cannot take a [filter]", display(path))))
        }
    }
}

/// A filter over the elements of one multi-valued attribute (`type eq "work" and value co …`).
fn element_filter(columns: Columns, filter: &Filter) -> Result<Sql, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Sql::seq([Sql::raw("("), element_filter(columns, a)?, Sql::raw(" AND "), element_filter(columns, b)?, Sql::raw(")")]),
        Filter::Or(a, b) => Sql::seq([Sql::raw("("), element_filter(columns, a)?, Sql::raw(" OR "), element_filter(columns, b)?, Sql::raw(")")]),
        Filter::Not(f) => Sql::seq([Sql::raw("NOT COALESCE(("), element_filter(columns, f)?, Sql::raw("), FALSE)")]),
        Filter::Present(path) => {
            let (column, kind) = columns(Some(&path.name))?;
            present(&column, kind)
        }
        Filter::Compare(path, op, value) => {
            let (column, kind) = columns(Some(&path.name))?;
            compare(&column, kind, *op, value)?
        }
        Filter::ValuePath(..) => return Err(invalid("value filters cannot be nested")),
    })
}

/// Group attributes: displayName, externalId, id, meta, and members (by member id).
fn resolve_group(path: &AttrPath) -> Result<Place, ScimError> {
    if let Some(urn) = &path.urn
        && !urn.eq_ignore_ascii_case(super::schema::GROUP_SCHEMA)
    {
        return Err(invalid(format!("unknown attribute {:?} in filter", display(path))));
    }
    let sub = path.sub.as_deref().map(str::to_ascii_lowercase);
    Ok(match (path.name.to_ascii_lowercase().as_str(), sub.as_deref()) {
        ("id", None) => Place::Column("groups.scim_id", Kind::TextExact),
        ("displayname", None) => Place::Column("groups.display_name_lower", Kind::TextCi),
        ("externalid", None) => Place::Column("groups.external_id_lower", Kind::TextCi),
        ("meta", Some("created")) => Place::Column("groups.created_at", Kind::Time),
        ("meta", Some("lastmodified")) => Place::Column("groups.updated_at", Kind::Time),
        ("meta", Some("resourcetype")) => Place::Constant("Group"),
        ("members", _) => Place::Rows("members".into(), false),
        _ => return Err(invalid(format!("unknown attribute {:?} in filter", display(path)))),
    })
}

fn member_column(sub: Option<&str>) -> Result<(Expr, Kind), ScimError> {
    match sub.map(str::to_ascii_lowercase).as_deref() {
        None | Some("value") => Ok((Expr::Same("u.scim_id"), Kind::TextExact)),
        Some("display") => Ok((Expr::Same("lower(COALESCE(u.display_name, u.user_name))"), Kind::TextCi)),
        Some(other) => Err(invalid(format!("unknown sub-attribute members.{other} in filter"))),
    }
}

fn members_subquery(company: CompanyId, _key: String, _ci: bool, condition: Sql) -> Sql {
    Sql::seq([
        Sql::raw("groups.id IN (SELECT gm.group_id FROM group_members gm JOIN users u ON u.id = gm.user_id WHERE u.deprovisioned_at IS NULL AND gm.company_id = "),
        Sql::Int(company.0),
        Sql::raw(" AND "),
        condition,
        Sql::raw(")"),
    ])
}

fn lookups_subquery(company: CompanyId, key: String, key_ci: bool, condition: Sql) -> Sql {
    let key_column = if key_ci { "lower(v.attribute)" } else { "v.attribute" };
    Sql::seq([
        Sql::raw("users.id IN (SELECT v.user_id FROM user_lookups v WHERE v.company_id = "),
        Sql::Int(company.0),
        Sql::raw_owned(format!(" AND {key_column} = ")),
        Sql::Text(key),
        Sql::raw(" AND "),
        condition,
        Sql::raw(")"),
    ])
}

fn present(column: &Expr, kind: Kind) -> Sql {
    match kind {
        Kind::TextCi | Kind::TextExact => column.sql(|c| format!("({c} IS NOT NULL AND {c} <> '')")),
        _ => column.sql(|c| format!("{c} IS NOT NULL")),
    }
}

fn like_pattern(op: CompareOp, value: &str) -> String {
    let escaped = crate::db::like_escape(value);
    match op {
        CompareOp::Co => format!("%{escaped}%"),
        CompareOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

fn compare(column: &Expr, kind: Kind, op: CompareOp, value: &CompValue) -> Result<Sql, ScimError> {
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq => Ok(column.sql(|c| format!("{c} IS NULL"))),
            CompareOp::Ne => Ok(column.sql(|c| format!("{c} IS NOT NULL"))),
            _ => Err(invalid("null can only be compared with eq or ne")),
        };
    }
    let bound = match kind {
        Kind::TextCi | Kind::TextExact => {
            let text = match value {
                CompValue::String(s) => s.clone(),
                CompValue::Number(n) => n.to_string(),
                CompValue::Bool(b) => b.to_string(),
                CompValue::Null => String::new(),
            };
            let text = if kind == Kind::TextCi { text.to_lowercase() } else { text };
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Ok(Sql::seq([
                    column.sql(|c| format!("{c} LIKE ")),
                    Sql::Text(like_pattern(op, &text)),
                    Sql::raw(" ESCAPE '\\'"),
                ]));
            }
            Sql::Text(text)
        }
        Kind::Bool => {
            let flag = match value {
                CompValue::Bool(b) => *b,
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(invalid("a boolean attribute compares with true or false")),
            };
            if !matches!(op, CompareOp::Eq | CompareOp::Ne) {
                return Err(invalid("a boolean attribute supports only eq and ne"));
            }
            Sql::Bool(flag)
        }
        Kind::Time => {
            let CompValue::String(s) = value else {
                return Err(invalid("a dateTime is compared with a quoted RFC 3339 value"));
            };
            let time: NaiveDateTime = DateTime::parse_from_rfc3339(s)
                .map_err(|_| invalid(format!("{s:?} is not an RFC 3339 dateTime such as 2026-01-31T09:30:00Z")))?
                .naive_utc();
            if matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
                return Err(invalid("co, sw and ew apply to strings only"));
            }
            Sql::Timestamp(time)
        }
    };
    let sql_op = match op {
        CompareOp::Eq => " = ",
        CompareOp::Ne => return Ok(Sql::seq([column.sql(|c| format!("({c} IS NULL OR {c} <> ")), bound, Sql::raw(")")])),
        CompareOp::Gt => " > ",
        CompareOp::Ge => " >= ",
        CompareOp::Lt => " < ",
        CompareOp::Le => " <= ",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => unreachable!("handled above"),
    };
    Ok(Sql::seq([column.sql(|c| format!("{c}{sql_op}")), bound]))
}

/// The ORDER BY expression for `sortBy`.
pub fn user_sort(sort_by: &str, descending: bool) -> Result<Sql, ScimError> {
    let path = super::filter::parse_path(sort_by)
        .map_err(|e| ScimError::invalid_value(format!("sortBy {sort_by:?}: {e}")))?;
    let place = resolve(&path.attr).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?;
    let expr = match place {
        Place::Column(column, _) => Sql::raw(column),
        Place::Rows(key, ci) => Sql::seq([
            Sql::raw(if ci {
                "(SELECT MIN(v.value_lower) FROM user_lookups v WHERE v.user_id = users.id AND lower(v.attribute) = "
            } else {
                "(SELECT MIN(v.value_lower) FROM user_lookups v WHERE v.user_id = users.id AND v.attribute = "
            }),
            Sql::Text(key),
            Sql::raw(")"),
        ]),
        Place::Document(key, _) => {
            let (value, _) = document_element(None)?;
            Sql::seq([value.sql(|v| format!("(SELECT MIN({v})")), document_elements(key), Sql::raw(")")])
        }
        Place::Constant(_) => Sql::raw("users.id"),
    };
    Ok(Sql::seq([expr, Sql::raw(if descending { " DESC" } else { " ASC" })]))
}
