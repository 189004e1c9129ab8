//! `/Groups`: Entra's group provisioning, both PATCH dialects. Members are read only when the
//! answer includes them (Entra always asks `excludedAttributes=members`), and member changes
//! are applied as set deltas, never by rewriting the list.

use std::collections::BTreeSet;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};

use super::attempt::Attempt;
use super::auth::ScimCredentials;
use super::error::{ScimError, ScimType};
use super::filter::{CompValue, CompareOp, Filter, parse_path};
use super::http::{Projection, Query, if_match, list_response, read_json, respond, respond_resource};
use super::patch::{OpKind, PatchOp, parse_patch};
use super::schema::GROUP_SCHEMA;
use super::users::{ListParams, page_of, rfc3339};
use crate::db::AnyConnection;
use crate::models::group::{Group, MemberRef};
use crate::models::CompanyId;
use crate::provisioning::groups::{self as rules, MemberChanges};
use crate::provisioning::users::etag;

fn resource(group: &Group, members: Option<&[MemberRef]>, base: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(group.scim_id));
    out.insert("displayName".into(), json!(group.display_name));
    if let Some(external) = &group.external_id {
        out.insert("externalId".into(), json!(external));
    }
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .map(|m| json!({"value": m.scim_id, "$ref": format!("{base}/Users/{}", m.scim_id), "type": "User"}))
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": rfc3339(group.created_at),
            "lastModified": rfc3339(group.updated_at),
            "location": format!("{base}/Groups/{}", group.scim_id),
            "version": etag(group.version),
        }),
    );
    out
}

fn wants_members(projection: &Projection) -> bool {
    let named = |list: &[String]| list.iter().any(|a| a.eq_ignore_ascii_case("members") || a.to_ascii_lowercase().starts_with("members."));
    !named(&projection.excluded) && (projection.attributes.is_empty() || named(&projection.attributes))
}

/// Loads groups' members only when they will be shown.
fn render(conn: &mut AnyConnection, groups: &[Group], projection: &Projection, base: &str) -> Result<Vec<Value>, ScimError> {
    let members = if wants_members(projection) { Group::members(conn, &groups.iter().map(|g| g.id).collect::<Vec<_>>())? } else { Default::default() };
    Ok(groups
        .iter()
        .map(|g| {
            let mut r = resource(g, wants_members(projection).then(|| members.get(&g.id).map(Vec::as_slice).unwrap_or_default()), base);
            projection.apply(&mut r, GROUP_SCHEMA);
            Value::Object(r)
        })
        .collect())
}

fn get_ci<'v>(object: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn optional_text(value: Option<&Value>, name: &str) -> Result<Option<String>, ScimError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ScimError::invalid_value(format!("{name} must be a string"))),
    }
}

/// Member ids from `[{"value": id, "$ref": null}, …]` (or a single object).
fn member_ids(value: Option<&Value>) -> Result<BTreeSet<String>, ScimError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(BTreeSet::new()),
        Some(Value::Array(items)) => items.iter().collect::<Vec<_>>(),
        Some(other) => vec![other],
    };
    items
        .into_iter()
        .map(|item| match item {
            Value::String(id) => Ok(id.clone()),
            Value::Object(o) => get_ci(o, "value").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| ScimError::invalid_value("each member needs a \"value\" (the member's id)")),
            _ => Err(ScimError::invalid_value("members must be objects like {\"value\": \"<id>\"}")),
        })
        .collect()
}

struct GroupBody {
    display_name: String,
    external_id: Option<String>,
    members: BTreeSet<String>,
}

fn parse_group(body: &Value) -> Result<GroupBody, ScimError> {
    let object = body.as_object().ok_or_else(|| ScimError::bad_request(ScimType::InvalidSyntax, "the request body must be a JSON object"))?;
    let display_name = optional_text(get_ci(object, "displayName"), "displayName")?
        .ok_or_else(|| ScimError::invalid_value("displayName is required and must be a non-empty string"))?;
    Ok(GroupBody { display_name, external_id: optional_text(get_ci(object, "externalId"), "externalId")?, members: member_ids(get_ci(object, "members"))? })
}

/// Turns PATCH operations into the new name/externalId and ordered member changes.
fn interpret(group: &Group, ops: &[PatchOp]) -> Result<(String, Option<String>, MemberChanges), ScimError> {
    let (mut name, mut external) = (group.display_name.clone(), group.external_id.clone());
    let mut members = MemberChanges::default();
    for (i, op) in ops.iter().enumerate() {
        let fail = |e: ScimError| ScimError { detail: format!("operation {}: {}", i + 1, e.detail), ..e };
        let targets: Vec<(String, Option<Value>)> = match (&op.path, &op.value) {
            (Some(path), value) => vec![(path.clone(), value.clone())],
            (None, Some(Value::Object(values))) => values.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect(),
            (None, _) if op.kind == OpKind::Remove => return Err(fail(ScimError::bad_request(ScimType::NoTarget, "remove needs a \"path\""))),
            (None, _) => return Err(fail(ScimError::invalid_value("an operation without \"path\" needs an object \"value\""))),
        };
        for (path, value) in targets {
            apply_op(op.kind, &path, value, &mut name, &mut external, &mut members).map_err(fail)?;
        }
    }
    Ok((name, external, members))
}

fn apply_op(kind: OpKind, path: &str, value: Option<Value>, name: &mut String, external: &mut Option<String>, members: &mut MemberChanges) -> Result<(), ScimError> {
    let parsed = parse_path(path).map_err(|e| ScimError::invalid_path(format!("bad path {path:?}: {e}")))?;
    let attr = parsed.attr.name.to_ascii_lowercase();
    match (attr.as_str(), kind) {
        // Stray read-only members (in a path-less value) are ignored, as for users.
        ("id" | "meta" | "schemas", _) if parsed.filter.is_none() => Ok(()),
        ("displayname", OpKind::Remove) => Err(ScimError::bad_request(ScimType::Mutability, "displayName is required and cannot be removed")),
        ("displayname", _) => {
            *name = optional_text(value.as_ref(), "displayName")?.ok_or_else(|| ScimError::invalid_value("displayName cannot be empty"))?;
            Ok(())
        }
        ("externalid", OpKind::Remove) => {
            *external = None;
            Ok(())
        }
        ("externalid", _) => {
            *external = optional_text(value.as_ref(), "externalId")?;
            Ok(())
        }
        ("members", kind) => {
            if let Some(filter) = &parsed.filter {
                if kind != OpKind::Remove {
                    return Err(ScimError::invalid_path("members[…] selects members to remove; add members with path \"members\""));
                }
                for id in filter_ids(filter)? {
                    members.remove(id);
                }
                return Ok(());
            }
            let ids = member_ids(value.as_ref())?;
            match kind {
                OpKind::Add => ids.into_iter().for_each(|id| members.add(id)),
                OpKind::Replace => members.replace(ids),
                // Entra's old dialect lists the members to remove: only those go.
                OpKind::Remove if !ids.is_empty() => ids.into_iter().for_each(|id| members.remove(id)),
                OpKind::Remove => members.replace(BTreeSet::new()),
            }
            Ok(())
        }
        _ => Err(ScimError::invalid_path(format!("{path:?} is not an attribute of a group (displayName, externalId, members)"))),
    }
}

/// The ids in `members[value eq "a" or value eq "b"]`.
fn filter_ids(filter: &Filter) -> Result<Vec<String>, ScimError> {
    match filter {
        Filter::Compare(p, CompareOp::Eq, CompValue::String(id)) if p.name.eq_ignore_ascii_case("value") => Ok(vec![id.clone()]),
        Filter::Or(a, b) => Ok([filter_ids(a)?, filter_ids(b)?].concat()),
        _ => Err(ScimError::invalid_path("only members[value eq \"<id>\"] (optionally joined with or) selects members")),
    }
}

fn single(status: StatusCode, value: Map<String, Value>, group: &Group, base: &str) -> HttpResponse {
    let location = format!("{base}/Groups/{}", group.scim_id);
    respond_resource(status, &Value::Object(value), &etag(group.version), (status == StatusCode::CREATED).then_some(location.as_str()))
}

fn find(conn: &mut AnyConnection, company: CompanyId, id: &str) -> Result<Group, ScimError> {
    Group::find_by_scim_id(conn, company, id)?.ok_or_else(|| ScimError::not_found("no group with this id in this company"))
}

/// The group with its members, as a SCIM resource.
fn full_resource(conn: &mut AnyConnection, group: &Group, base: &str) -> Result<Map<String, Value>, ScimError> {
    let members = Group::members(conn, &[group.id])?.remove(&group.id).unwrap_or_default();
    Ok(resource(group, Some(&members), base))
}

pub async fn create(credentials: ScimCredentials, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    let parsed = match read_json(body).await.and_then(|b| parse_group(&b)) {
        Ok(parsed) => parsed,
        Err(e) => return Err(Attempt::group("create", None, None).invalid(&credentials, e).await),
    };
    let attempt = Attempt::group("create", None, Some(parsed.display_name.clone()));
    let base = credentials.base_url();
    let outcome = credentials
        .write(move |conn, company| {
            let mut changes = MemberChanges::default();
            parsed.members.into_iter().for_each(|m| changes.add(m));
            let group = rules::create_group(conn, company.company_id(), &parsed.display_name, parsed.external_id.as_deref(), &changes)?;
            Ok((full_resource(conn, &group, &base)?, group))
        })
        .await;
    match outcome {
        Ok((ctx, (value, group))) => Ok(single(StatusCode::CREATED, value, &group, &ctx.base_url)),
        Err(refusal) => Err(attempt.refused(&credentials, refusal).await),
    }
}

pub async fn get(credentials: ScimCredentials, req: HttpRequest, path: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    let query = Query::of(&req);
    let (id, base) = (path.into_inner().1, credentials.base_url());
    let (_, (value, group)) = credentials
        .read(move |conn, company| {
            let projection = Projection::of(&query?);
            let group = find(conn, company.company_id(), &id)?;
            let value = render(conn, std::slice::from_ref(&group), &projection, &base)?.pop().unwrap_or_default();
            Ok((value, group))
        })
        .await?;
    Ok(respond_resource(StatusCode::OK, &value, &etag(group.version), None))
}

pub async fn list(credentials: ScimCredentials, req: HttpRequest) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    list_groups(credentials, Query::of(&req).and_then(|query| ListParams::from_query(&query))).await
}

/// `POST /Groups/.search`.
pub async fn search(credentials: ScimCredentials, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    list_groups(credentials, read_json(body).await.and_then(|body| ListParams::from_search(&body))).await
}

/// One page of groups; request errors are reported only after the credentials check.
async fn list_groups(credentials: ScimCredentials, params: Result<ListParams, ScimError>) -> Result<HttpResponse, ScimError> {
    let base = credentials.base_url();
    let (_, (start_index, total, resources)) = credentials
        .read(move |conn, company| {
            let params = params?;
            let (start_index, offset, count) = page_of(&params);
            let filter = super::query::list_filter(params.filter.as_deref())?;
            let (total, resources) = group_page(conn, company.company_id(), filter.as_ref(), &params.projection, offset, count, &base)?;
            Ok((start_index, total, resources))
        })
        .await?;
    Ok(respond(StatusCode::OK, &list_response(total, start_index, resources)))
}

/// One page of groups as SCIM resources, with the total.
pub fn group_page(
    conn: &mut AnyConnection,
    company: CompanyId,
    filter: Option<&Filter>,
    projection: &Projection,
    offset: i64,
    count: i64,
    base: &str,
) -> Result<(i64, Vec<Value>), ScimError> {
    let filter = match filter {
        Some(parsed) => Some(super::query::group_filter(parsed, company)?),
        None => None,
    };
    let (total, groups) = Group::search(conn, company, filter, offset, count)?;
    Ok((total, render(conn, &groups, projection, base)?))
}

/// PATCH (`replace` false) or PUT: changes the group in one write; PUT also answers with it.
async fn change(credentials: &ScimCredentials, req: &HttpRequest, id: String, operation: &'static str, body: Result<Value, ScimError>, replace: bool) -> Result<(Group, Option<Map<String, Value>>), ScimError> {
    let attempt = Attempt::group(operation, Some(&id), None);
    let body = match body {
        Ok(body) => body,
        Err(e) => return Err(attempt.invalid(credentials, e).await),
    };
    let (if_match, base) = (if_match(req), credentials.base_url());
    let outcome = credentials
        .write(move |conn, company| {
            let group = find(conn, company.company_id(), &id)?;
            if let Some(tag) = &if_match
                && tag.trim() != "*"
                && tag.trim_start_matches("W/") != etag(group.version).trim_start_matches("W/")
            {
                return Err(ScimError::new(StatusCode::PRECONDITION_FAILED, None, "the group changed since that version; read it again"));
            }
            let (name, external, members) = if replace {
                let parsed = parse_group(&body)?;
                let mut changes = MemberChanges::default();
                changes.replace(parsed.members);
                (parsed.display_name, parsed.external_id, changes)
            } else {
                interpret(&group, &parse_patch(&body)?)?
            };
            let updated = rules::update_group(conn, company.company_id(), &group, &name, external.as_deref(), &members, operation)?;
            // PUT answers with the group, as RFC 7644 §3.5.1 says.
            let value = if replace { Some(full_resource(conn, &updated, &base)?) } else { None };
            Ok((updated, value))
        })
        .await;
    match outcome {
        Ok((_, changed)) => Ok(changed),
        Err(refusal) => Err(attempt.refused(credentials, refusal).await),
    }
}

pub async fn modify(credentials: ScimCredentials, req: HttpRequest, path: web::Path<(String, String)>, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    let body = read_json(body).await;
    change(&credentials, &req, path.into_inner().1, "update", body, false).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub async fn replace(credentials: ScimCredentials, req: HttpRequest, path: web::Path<(String, String)>, body: web::Payload) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    let body = read_json(body).await;
    let (group, value) = change(&credentials, &req, path.into_inner().1, "replace", body, true).await?;
    Ok(single(StatusCode::OK, value.unwrap_or_default(), &group, &credentials.base_url()))
}

pub async fn delete(credentials: ScimCredentials, path: web::Path<(String, String)>) -> Result<HttpResponse, ScimError> {
    let credentials = credentials.for_groups();
    let id = path.into_inner().1;
    let attempt = Attempt::group("delete", Some(&id), None);
    let outcome = credentials
        .write(move |conn, company| {
            let group = find(conn, company.company_id(), &id)?;
            rules::delete_group(conn, company.company_id(), &group)?;
            Ok(())
        })
        .await;
    match outcome {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(refusal) => Err(attempt.refused(&credentials, refusal).await),
    }
}
