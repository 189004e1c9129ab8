//! SCIM filters and sorting translated to SQL with bound parameters, run in the database
//! (indexed lookups for what Entra uses: userName, externalId, emails; nothing is filtered in
//! memory). Attribute names resolve case-insensitively against the schema.

use chrono::{DateTime, NaiveDateTime};

use super::error::{ScimError, ScimType};
use super::filter::{AttrPath, CompValue, CompareOp, Filter};
use super::schema::{self, ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA};
use crate::db::sql::Sql;
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
    /// Rows of `user_values` with this attribute key: (key, compare key case-insensitively).
    Values(String, bool),
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
                (n, _) => Place::Values(format!("{ENTERPRISE_SCHEMA}:{n}"), false),
            });
        }
        Some(u) => return Ok(Place::Values(format!("{u}:{name}").to_lowercase(), true)),
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
        return Ok(Place::Values(def.name.to_owned(), false));
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
                other => Place::Values(format!("name.{other}"), false),
            }
        }
        ("name", None) => return Err(invalid("name is complex: filter on a sub-attribute such as name.familyName")),
        (other, None) => Place::Values(other.to_owned(), false),
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

/// The column of `user_values` for an element sub-attribute (or a single-valued extra).
fn element_column(sub: Option<&str>) -> Result<(&'static str, Kind), ScimError> {
    let Some(sub) = sub else { return Ok(("v.value_lower", Kind::TextCi)) };
    Ok(match sub.to_ascii_lowercase().as_str() {
        "value" => ("v.value_lower", Kind::TextCi),
        "display" => ("lower(v.display)", Kind::TextCi),
        "type" => ("lower(v.type)", Kind::TextCi),
        "primary" => ("v.is_primary", Kind::Bool),
        "formatted" => ("lower(v.formatted)", Kind::TextCi),
        "streetaddress" => ("lower(v.street_address)", Kind::TextCi),
        "locality" => ("lower(v.locality)", Kind::TextCi),
        "region" => ("lower(v.region)", Kind::TextCi),
        "postalcode" => ("lower(v.postal_code)", Kind::TextCi),
        "country" => ("lower(v.country)", Kind::TextCi),
        other => return Err(invalid(format!("unknown sub-attribute {other:?} in filter"))),
    })
}

/// How one resource type's attributes map to SQL.
struct Dialect {
    resolve: fn(&AttrPath) -> Result<Place, ScimError>,
    element_column: fn(Option<&str>) -> Result<(&'static str, Kind), ScimError>,
    subquery: fn(CompanyId, String, bool, Sql) -> Sql,
}

const USERS: Dialect = Dialect { resolve, element_column, subquery: values_subquery };
const GROUPS: Dialect = Dialect { resolve: resolve_group, element_column: member_column, subquery: members_subquery };

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
        Filter::ValuePath(path, inner) => match (d.resolve)(path)? {
            Place::Values(key, ci) => (d.subquery)(company, key, ci, element_filter(d, inner)?),
            _ => return Err(invalid(format!("{} is not multi-valued: it cannot take a [filter]", display(path)))),
        },
        Filter::Present(path) => match (d.resolve)(path)? {
            Place::Column(column, kind) => present(column, kind),
            Place::Values(key, ci) => {
                let (column, kind) = (d.element_column)(path.sub.as_deref())?;
                (d.subquery)(company, key, ci, present(column, kind))
            }
            Place::Constant(_) => Sql::raw("TRUE"),
        },
        Filter::Compare(path, op, value) => match (d.resolve)(path)? {
            Place::Column(column, kind) => compare(column, kind, *op, value)?,
            Place::Values(key, ci) => {
                let (column, kind) = (d.element_column)(path.sub.as_deref())?;
                (d.subquery)(company, key, ci, compare(column, kind, *op, value)?)
            }
            Place::Constant(constant) => {
                let matches = matches!(value, CompValue::String(s) if s.eq_ignore_ascii_case(constant));
                Sql::raw(if matches == (*op == CompareOp::Eq) { "TRUE" } else { "FALSE" })
            }
        },
    })
}

/// A filter over the elements of one multi-valued attribute (`type eq "work" and value co …`).
fn element_filter(d: &Dialect, filter: &Filter) -> Result<Sql, ScimError> {
    Ok(match filter {
        Filter::And(a, b) => Sql::seq([Sql::raw("("), element_filter(d, a)?, Sql::raw(" AND "), element_filter(d, b)?, Sql::raw(")")]),
        Filter::Or(a, b) => Sql::seq([Sql::raw("("), element_filter(d, a)?, Sql::raw(" OR "), element_filter(d, b)?, Sql::raw(")")]),
        Filter::Not(f) => Sql::seq([Sql::raw("NOT COALESCE(("), element_filter(d, f)?, Sql::raw("), FALSE)")]),
        Filter::Present(path) => {
            let (column, kind) = (d.element_column)(Some(&path.name))?;
            present(column, kind)
        }
        Filter::Compare(path, op, value) => {
            let (column, kind) = (d.element_column)(Some(&path.name))?;
            compare(column, kind, *op, value)?
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
        ("members", _) => Place::Values("members".into(), false),
        _ => return Err(invalid(format!("unknown attribute {:?} in filter", display(path)))),
    })
}

fn member_column(sub: Option<&str>) -> Result<(&'static str, Kind), ScimError> {
    match sub.map(str::to_ascii_lowercase).as_deref() {
        None | Some("value") => Ok(("u.scim_id", Kind::TextExact)),
        Some("display") => Ok(("lower(COALESCE(u.display_name, u.user_name))", Kind::TextCi)),
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

fn values_subquery(company: CompanyId, key: String, key_ci: bool, condition: Sql) -> Sql {
    let key_column = if key_ci { "lower(v.attribute)" } else { "v.attribute" };
    Sql::seq([
        Sql::raw("users.id IN (SELECT v.user_id FROM user_values v WHERE v.company_id = "),
        Sql::Int(company.0),
        Sql::raw_owned(format!(" AND {key_column} = ")),
        Sql::Text(key),
        Sql::raw(" AND "),
        condition,
        Sql::raw(")"),
    ])
}

fn present(column: &'static str, kind: Kind) -> Sql {
    match kind {
        Kind::TextCi | Kind::TextExact => Sql::raw_owned(format!("({column} IS NOT NULL AND {column} <> '')")),
        _ => Sql::raw_owned(format!("{column} IS NOT NULL")),
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

fn compare(column: &'static str, kind: Kind, op: CompareOp, value: &CompValue) -> Result<Sql, ScimError> {
    if let CompValue::Null = value {
        return match op {
            CompareOp::Eq => Ok(Sql::raw_owned(format!("{column} IS NULL"))),
            CompareOp::Ne => Ok(Sql::raw_owned(format!("{column} IS NOT NULL"))),
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
                    Sql::raw_owned(format!("{column} LIKE ")),
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
        CompareOp::Ne => return Ok(Sql::seq([Sql::raw_owned(format!("({column} IS NULL OR {column} <> ")), bound, Sql::raw(")")])),
        CompareOp::Gt => " > ",
        CompareOp::Ge => " >= ",
        CompareOp::Lt => " < ",
        CompareOp::Le => " <= ",
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => unreachable!("handled above"),
    };
    Ok(Sql::seq([Sql::raw_owned(format!("{column}{sql_op}")), bound]))
}

/// The ORDER BY expression for `sortBy`.
pub fn user_sort(sort_by: &str, descending: bool) -> Result<Sql, ScimError> {
    let path = super::filter::parse_path(sort_by)
        .map_err(|e| ScimError::invalid_value(format!("sortBy {sort_by:?}: {e}")))?;
    let place = resolve(&path.attr).map_err(|e| ScimError::invalid_value(format!("sortBy: {}", e.detail)))?;
    let expr = match place {
        Place::Column(column, _) => Sql::raw(column),
        Place::Values(key, _) => Sql::seq([
            Sql::raw("(SELECT MIN(v.value_lower) FROM user_values v WHERE v.user_id = users.id AND v.attribute = "),
            Sql::Text(key),
            Sql::raw(")"),
        ]),
        Place::Constant(_) => Sql::raw("users.id"),
    };
    Ok(Sql::seq([expr, Sql::raw(if descending { " DESC" } else { " ASC" })]))
}
