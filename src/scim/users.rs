//! `/Users`: thin handlers. Parse, call the provisioning rules in one transaction, render.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde_json::{Map, Value, json};

use super::attempt::Attempt;
use super::auth::{ScimContext, ScimCredentials};
use super::error::ScimError;
use super::filter::Filter;
use super::http::{Projection, Query, if_match, json_bytes, list_response, read_json, respond, respond_bytes, respond_resource_bytes};
use super::patch::{self, ResourceSchema};
use super::schema::{ENTERPRISE_ATTRIBUTES, ENTERPRISE_SCHEMA, USER_ATTRIBUTES, USER_SCHEMA};
use super::user_json::{parse_user, render_user};
use super::user_writer::{user_list_json, user_resource_json};
use super::query;
use crate::db::AnyConnection;
use crate::domain::UserAttributes;
use crate::models::Company;
use crate::models::user::{IdentityLookup, User};
use crate::provisioning::users::{self as rules, etag};
use crate::provisioning::ProvisioningError;

pub const USER_PATCH_SCHEMA: ResourceSchema = ResourceSchema {
    core_urn: USER_SCHEMA,
    core: USER_ATTRIBUTES,
    extensions: &[(ENTERPRISE_SCHEMA, ENTERPRISE_ATTRIBUTES)],
};

/// Default and maximum page size (stated in `/ServiceProviderConfig`).
pub const DEFAULT_COUNT: i64 = 100;
pub const MAX_COUNT: i64 = 1000;

impl From<ProvisioningError> for ScimError {
    fn from(err: ProvisioningError) -> Self {
        match err {
            ProvisioningError::Conflict(detail) => ScimError::conflict(detail),
            ProvisioningError::NotFound(detail) => ScimError::not_found(detail),
            ProvisioningError::EmailRequired | ProvisioningError::Invalid(_) => ScimError::invalid_value(err.to_string()),
            ProvisioningError::PreconditionFailed(_) => ScimError::new(StatusCode::PRECONDITION_FAILED, None, err.to_string()),
            ProvisioningError::Db(db) => ScimError::from(db),
        }
    }
}

pub fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The full SCIM representation of a person.
/// A person's `meta.location` (and a create's `Location` header).
pub fn user_location(base_url: &str, scim_id: &str) -> String {
    format!("{base_url}/Users/{scim_id}")
}

pub fn user_resource(user: &User, base_url: &str) -> Map<String, Value> {
    let mut out = render_user(&user.attributes);
    out.insert("id".into(), json!(user.row.scim_id));
    if !user.groups.is_empty() {
        let groups: Vec<Value> = user
            .groups
            .iter()
            .map(|(id, name)| json!({"value": id, "display": name, "$ref": format!("{base_url}/Groups/{id}"), "type": "direct"}))
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": rfc3339(user.row.created_at),
            "lastModified": rfc3339(user.row.updated_at),
            "location": user_location(base_url, &user.row.scim_id),
            "version": etag(user.row.version),
        }),
    );
    out
}

fn single(status: StatusCode, user: &User, ctx: &ScimContext, projection: Option<&Projection>) -> HttpResponse {
    // Only a create answers with a Location header.
    let location = (status == StatusCode::CREATED).then(|| user_location(&ctx.base_url, &user.row.scim_id));
    // A projection edits the `Value`; the direct writer declines very large people.
    let direct = projection.is_none_or(Projection::is_identity).then(|| user_resource_json(user, &ctx.base_url)).flatten();
    let body = match direct {
        Some(body) => {
            debug_assert_eq!(
                String::from_utf8_lossy(&body),
                String::from_utf8_lossy(&json_bytes(&Value::Object(user_resource(user, &ctx.base_url)))),
                "the direct writer and the Value path must give the same bytes"
            );
            body
        }
        None => {
            let mut resource = user_resource(user, &ctx.base_url);
            if let Some(p) = projection {
                p.apply(&mut resource, USER_SCHEMA);
            }
            json_bytes(&Value::Object(resource))
        }
    };
    respond_resource_bytes(status, body, &etag(user.row.version), location.as_deref())
}

fn subject_of(body: &Value) -> Option<String> {
    body.as_object()?.iter().find(|(k, _)| k.eq_ignore_ascii_case("userName"))?.1.as_str().map(str::to_owned)
}

pub async fn create(credentials: ScimCredentials, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let body = match read_json(body).await {
        Ok(body) => body,
        Err(e) => return Err(Attempt::user("create", None, None).invalid(&credentials, e).await),
    };
    let attempt = Attempt::user("create", None, subject_of(&body));
    let new_user = match parse_user(&body) {
        // Worked out here, on the request's thread, rather than in the write.
        Ok(attrs) => rules::NewUser::from(attrs),
        Err(e) => return Err(attempt.invalid(&credentials, e).await),
    };
    match credentials.write_autocommit(move |conn, company| rules::create_user(conn, company, new_user).map_err(ScimError::from)).await {
        Ok((ctx, created)) => Ok(single(StatusCode::CREATED, &created.user, &ctx, None)),
        Err(refusal) => Err(attempt.refused(&credentials, refusal).await),
    }
}

pub async fn get(credentials: ScimCredentials, req: HttpRequest, id: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    // A malformed query string is reported only to a request that passed the token check.
    let query = Query::of(&req);
    let scim_id = id.into_inner().1;
    let (ctx, user) = credentials
        .read_lookup(move |conn, company| {
            User::find_by_scim_id(conn, company, &scim_id)?
                .ok_or_else(|| ScimError::not_found("no user with this id in this company"))
        })
        .await?;
    credentials.recent_people().remember(&ctx.company, &user);
    Ok(single(StatusCode::OK, &user, &ctx, Some(&Projection::of(&query?))))
}

/// What a list or search asks for, from the query string or a `POST /.search` body.
#[derive(Clone)]
pub struct ListParams {
    pub filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub projection: Projection,
}

impl ListParams {
    pub fn from_query(query: &Query) -> Result<ListParams, ScimError> {
        Ok(ListParams {
            filter: query.get("filter").map(str::to_owned),
            sort_by: query.get("sortBy").map(str::to_owned),
            sort_order: query.get("sortOrder").map(str::to_owned),
            start_index: query.int("startIndex")?,
            count: query.int("count")?,
            projection: Projection::of(query),
        })
    }

    pub fn from_search(body: &Value) -> Result<ListParams, ScimError> {
        let get = |name: &str| body.as_object().and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name))).map(|(_, v)| v);
        let text = |name: &str| get(name).and_then(Value::as_str).map(str::to_owned);
        let int = |name: &str| match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("{name} must be an integer"))),
        };
        let list = |name: &str| match get(name) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
            Some(Value::String(s)) => s.split(',').map(|x| x.trim().to_owned()).filter(|x| !x.is_empty()).collect(),
            _ => Vec::new(),
        };
        Ok(ListParams {
            filter: text("filter"),
            sort_by: text("sortBy"),
            sort_order: text("sortOrder"),
            start_index: int("startIndex")?,
            count: int("count")?,
            projection: Projection { attributes: list("attributes"), excluded: list("excludedAttributes") },
        })
    }
}

pub async fn list(credentials: ScimCredentials, req: HttpRequest) -> Result<HttpResponse, ScimError> {
    // Checked after the token: a bad query string from a stranger is still a 401.
    list_users(credentials, Query::of(&req).and_then(|query| ListParams::from_query(&query))).await
}

/// `POST /Users/.search` (RFC 7644 §3.4.3).
pub async fn search(credentials: ScimCredentials, body: web::Payload) -> Result<HttpResponse, ScimError> {
    list_users(credentials, read_json(body).await.and_then(|body| ListParams::from_search(&body))).await
}

/// One page of users, checking the credentials and reading the page in one trip.
async fn list_users(credentials: ScimCredentials, params: Result<ListParams, ScimError>) -> Result<HttpResponse, ScimError> {
    let request = params.and_then(|params| Ok((UserFilter::of(&params)?, params)));
    // Entra's lookup before every create is one index lookup.
    let lookup = matches!(&request, Ok((Some(filter), _)) if filter.lookup.is_some());
    let work = move |conn: &mut AnyConnection, company: &Company| {
        let (filter, params) = request?;
        let (start_index, offset, count) = page_of(&params);
        let (total, users) = find_user_page(conn, company, &params, filter.as_ref(), offset, count)?;
        Ok((params, start_index, total, users))
    };
    let (ctx, (params, start_index, total, users)) =
        if lookup { credentials.read_lookup(work).await? } else { credentials.read(work).await? };
    Ok(respond_bytes(StatusCode::OK, user_list_body(total, start_index, &users, &ctx, &params.projection)))
}

/// A list answer's JSON: written straight to bytes (`user_writer`) unless a projection edits
/// the people or one of them has too many attributes for the writer.
fn user_list_body(total: i64, start_index: i64, users: &[User], ctx: &ScimContext, projection: &Projection) -> Vec<u8> {
    let by_value = || json_bytes(&list_response(total, start_index, render_users(users, ctx, projection)));
    match projection.is_identity().then(|| user_list_json(total, start_index, users, &ctx.base_url)).flatten() {
        Some(body) => {
            debug_assert_eq!(String::from_utf8_lossy(&body), String::from_utf8_lossy(&by_value()), "the direct writer and the Value path must give the same bytes");
            body
        }
        None => by_value(),
    }
}

/// A list request's filter, parsed, with Entra's identity lookup recognised once.
struct UserFilter {
    filter: Filter,
    lookup: Option<IdentityLookup>,
}

impl UserFilter {
    /// `None` without a filter.
    fn of(params: &ListParams) -> Result<Option<UserFilter>, ScimError> {
        Ok(query::list_filter(params.filter.as_deref())?.map(|filter| UserFilter { lookup: query::identity_lookup(&filter), filter }))
    }
}

/// `startIndex` (1-based, at least 1), the row offset and the page size of a list request.
pub fn page_of(params: &ListParams) -> (i64, i64, i64) {
    let start_index = params.start_index.unwrap_or(1).max(1);
    (start_index, start_index - 1, params.count.unwrap_or(DEFAULT_COUNT).clamp(0, MAX_COUNT))
}

/// `POST /.search`: users first, then groups, paged as one list.
pub async fn search_all(credentials: ScimCredentials, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let params = read_json(body).await.and_then(|body| ListParams::from_search(&body));
    let base = credentials.base_url();
    let (ctx, (start_index, user_total, users, group_total, groups, projection)) = credentials
        .read(move |conn, company| {
            let params = params?;
            let (start_index, offset, count) = page_of(&params);
            let filter = UserFilter::of(&params)?;
            let (user_total, users) = find_user_page(conn, company, &params, filter.as_ref(), offset, count)?;
            let (group_offset, room) = ((offset - user_total).max(0), count - users.len() as i64);
            let (group_total, groups) = if company.groups_enabled {
                // A filter naming user-only attributes simply matches no group.
                super::groups::group_page(conn, company.company_id(), filter.as_ref().map(|f| &f.filter), &params.projection, group_offset, room, &base).unwrap_or((0, Vec::new()))
            } else {
                (0, Vec::new())
            };
            Ok((start_index, user_total, users, group_total, groups, params.projection))
        })
        .await?;
    let mut resources = render_users(&users, &ctx, &projection);
    resources.extend(groups);
    Ok(respond(StatusCode::OK, &list_response(user_total + group_total, start_index, resources)))
}

/// The users of one page and the total, with the filter and sorting translated to SQL.
fn find_user_page(
    conn: &mut AnyConnection,
    company: &Company,
    params: &ListParams,
    filter: Option<&UserFilter>,
    offset: i64,
    count: i64,
) -> Result<(i64, Vec<User>), ScimError> {
    // Entra's lookup before a create gets its own static query; any other filter becomes SQL
    // here, before the sort is looked at, so a bad filter is reported first.
    let lookup = filter.and_then(|f| f.lookup.clone());
    let condition = match filter {
        Some(UserFilter { filter, lookup: None }) => Some(query::user_filter(filter, company.company_id())?),
        _ => None,
    };
    let descending = match params.sort_order.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("ascending") => false,
        Some("descending") => true,
        Some(other) => return Err(ScimError::invalid_value(format!("sortOrder must be ascending or descending, not {other:?}"))),
    };
    let sort = match params.sort_by.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(by) => Some(query::user_sort(by, descending)?),
        None => None,
    };
    let (total, rows) = match lookup {
        // At most one row (unique index), paged here; the sort, checked above, cannot reorder it.
        Some(lookup) => {
            let rows = User::find_by_identity(conn, company.company_id(), &lookup)?;
            let total = rows.len() as i64;
            (total, rows.into_iter().skip(offset.max(0) as usize).take(count.max(0) as usize).collect())
        }
        None => User::search(conn, company.company_id(), condition, sort, offset, count)?,
    };
    Ok((total, User::assemble(conn, rows, company.groups_enabled)?))
}

fn render_users(users: &[User], ctx: &ScimContext, projection: &Projection) -> Vec<Value> {
    users
        .iter()
        .map(|u| {
            let mut r = user_resource(u, &ctx.base_url);
            projection.apply(&mut r, USER_SCHEMA);
            Value::Object(r)
        })
        .collect()
}

pub async fn replace(credentials: ScimCredentials, req: HttpRequest, id: web::Path<(String, String)>, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let scim_id = id.into_inner().1;
    let body = match read_json(body).await {
        Ok(body) => body,
        Err(e) => return Err(Attempt::user("replace", Some(&scim_id), None).invalid(&credentials, e).await),
    };
    let attempt = Attempt::user("replace", Some(&scim_id), subject_of(&body));
    let attrs = match parse_user(&body) {
        Ok(attrs) => attrs,
        Err(e) => return Err(attempt.invalid(&credentials, e).await),
    };
    update(credentials, &req, scim_id, attempt, "replace", move |_| Ok(attrs.clone())).await
}

pub async fn modify(credentials: ScimCredentials, req: HttpRequest, id: web::Path<(String, String)>, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let scim_id = id.into_inner().1;
    let attempt = Attempt::user("update", Some(&scim_id), None);
    let ops = match read_json(body).await.and_then(|b| patch::parse_patch(&b)) {
        Ok(ops) => ops,
        Err(e) => return Err(attempt.invalid(&credentials, e).await),
    };
    update(credentials, &req, scim_id, attempt, "update", move |current| {
        let mut doc = render_user(current);
        patch::apply(&mut doc, &ops, &USER_PATCH_SCHEMA)?;
        parse_user(&Value::Object(doc))
    })
    .await
}

/// A PUT or PATCH: `change` applied to the person (starting from the one a GET just read,
/// if any: see `recent_people`), answered with the person as written.
async fn update<F>(credentials: ScimCredentials, req: &HttpRequest, scim_id: String, attempt: Attempt, operation: &'static str, change: F) -> Result<HttpResponse, ScimError>
where
    F: FnMut(&UserAttributes) -> Result<UserAttributes, ScimError> + Send + 'static,
{
    let if_match = if_match(req);
    let recent = credentials.recent_people();
    let result = credentials
        .write_autocommit(move |conn, company| {
            let known = recent.take(company, &scim_id);
            rules::update_user(conn, company, &scim_id, if_match.as_deref(), operation, known, change)
        })
        .await;
    match result {
        Ok((ctx, user)) => Ok(single(StatusCode::OK, &user, &ctx, None)),
        Err(refusal) => Err(attempt.refused(&credentials, refusal).await),
    }
}

pub async fn delete(credentials: ScimCredentials, req: HttpRequest, id: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    let scim_id = id.into_inner().1;
    let attempt = Attempt::user("delete", Some(&scim_id), None);
    let if_match = if_match(&req);
    let result = credentials
        .write(move |conn, company| rules::deprovision_user(conn, company, &scim_id, if_match.as_deref()).map_err(ScimError::from))
        .await;
    match result {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(refusal) => Err(attempt.refused(&credentials, refusal).await),
    }
}
