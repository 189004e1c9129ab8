//! Groups provisioned by Entra, their members, and their mappings to Passles.

use actix_web::{HttpResponse, web};
use askama::Template;

use super::{field, form_pairs, ids};
use crate::auth::session::CompanyAccess;
use crate::domain::Role;
use crate::error::PortalError;
use crate::models::activity::NewActivity;
use crate::models::assignment::{Assignment, Who};
use crate::models::group::{Group, GroupMapping, MemberRef};
use crate::models::passle::Passle;
use crate::provisioning::groups::{grant_mapped, source_key};
use crate::state::AppState;
use crate::web::layout::{Layout, render, see_other};

pub struct GroupLine {
    pub group: Group,
    pub members: i64,
}

#[derive(Template)]
#[template(path = "company/groups.html")]
pub struct GroupsPage {
    layout: Layout,
    shortcode: String,
    enabled: bool,
    groups: Vec<GroupLine>,
}

pub async fn list(state: web::Data<AppState>, access: CompanyAccess) -> Result<HttpResponse, PortalError> {
    let id = access.company.company_id();
    let groups = state
        .db
        .read(move |conn| {
            let counts = Group::member_counts(conn, id)?;
            let groups = Group::list(conn, id)?;
            Ok::<_, PortalError>(groups.into_iter().map(|g| GroupLine { members: counts.get(&g.id).copied().unwrap_or(0), group: g }).collect())
        })
        .await?;
    render(&GroupsPage {
        layout: Layout::for_company(&state, &access, "groups").await?,
        shortcode: access.company.shortcode.clone(),
        enabled: access.company.groups_enabled,
        groups,
    })
}

pub struct MappingLine {
    pub id: i64,
    pub passle: String,
    pub role: &'static str,
}

#[derive(Template)]
#[template(path = "company/group.html")]
pub struct GroupPage {
    layout: Layout,
    shortcode: String,
    group: Group,
    members: Vec<MemberRef>,
    member_total: usize,
    mappings: Vec<MappingLine>,
    passles: Vec<Passle>,
    notice: bool,
}

const MEMBERS_SHOWN: usize = 200;

pub async fn show(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, query: web::Query<super::entra::NoticeQuery>) -> Result<HttpResponse, PortalError> {
    let (id, group_id) = (access.company.company_id(), path.1);
    let (group, members, mappings, passles) = state
        .db
        .read(move |conn| {
            let group = Group::find(conn, id, group_id)?.ok_or(PortalError::NotFound)?;
            let members = Group::members(conn, &[group.id])?.remove(&group.id).unwrap_or_default();
            let mappings: Vec<GroupMapping> = Group::mappings(conn, group.id)?;
            Ok::<_, PortalError>((group, members, mappings, Passle::list(conn, id)?))
        })
        .await?;
    let mappings = mappings
        .iter()
        .map(|m| MappingLine {
            id: m.id,
            passle: passles.iter().find(|p| p.id == m.passle_id).map_or_else(String::new, |p| p.name.clone()),
            role: Role::parse(&m.role).map_or("?", Role::label),
        })
        .collect();
    let member_total = members.len();
    render(&GroupPage {
        layout: Layout::for_company(&state, &access, "groups").await?,
        shortcode: access.company.shortcode.clone(),
        group,
        members: members.into_iter().take(MEMBERS_SHOWN).collect(),
        member_total,
        mappings,
        passles,
        notice: query.has_notice(),
    })
}

fn record(conn: &mut crate::db::AnyConnection, group: &Group, admin: &str, operation: &str, detail: String) -> Result<(), PortalError> {
    let mut event = NewActivity::new(crate::models::CompanyId(group.company_id), admin, operation, "Group");
    event.resource_id = Some(group.scim_id.clone());
    event.subject = Some(group.display_name.clone());
    event.detail = detail;
    event.insert(conn)?;
    Ok(())
}

/// Maps the group to the chosen Passles with a role, and grants it to its members now.
pub async fn add_mapping(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let role = match Role::parse(field(&pairs, "role")) {
        Some(role @ (Role::Editor | Role::ContentCreator)) => role,
        _ => return Err(PortalError::BadRequest("Choose Content Creator or Editor.".into())),
    };
    let chosen = ids(&pairs, "passle");
    let (id, group_id, admin) = (access.company.company_id(), path.1, access.signed.account.email.clone());
    state
        .db
        .write(move |conn| {
            let group = Group::find(conn, id, group_id)?.ok_or(PortalError::NotFound)?;
            let own: Vec<i64> = Passle::list(conn, id)?.into_iter().map(|p| p.id).filter(|p| chosen.contains(p)).collect();
            if own.is_empty() {
                return Err(PortalError::BadRequest("Choose at least one Passle.".into()));
            }
            let mapped: Vec<i64> = Group::mappings(conn, group.id)?.into_iter().map(|m| m.passle_id).collect();
            for passle in own.iter().filter(|p| !mapped.contains(p)) {
                Group::add_mapping(conn, &group, *passle, role.as_str())?;
            }
            let members = Group::all_member_ids(conn, &group)?;
            grant_mapped(conn, id, &group, &members)?;
            record(conn, &group, &admin, "map", format!("mapped to {} Passle(s) as {}; {} member(s) granted", own.len(), role.label(), members.len()))
        })
        .await?;
    Ok(see_other(&format!("/c/{}/groups/{group_id}?notice=saved", access.company.shortcode)))
}

/// Removes a mapping and exactly the assignments it granted.
pub async fn remove_mapping(state: web::Data<AppState>, access: CompanyAccess, path: web::Path<(String, i64, i64)>, body: web::Bytes) -> Result<HttpResponse, PortalError> {
    let pairs = form_pairs(&body)?;
    access.signed.check_csrf(field(&pairs, "csrf_token"))?;
    let (id, group_id, mapping_id, admin) = (access.company.company_id(), path.1, path.2, access.signed.account.email.clone());
    state
        .db
        .write(move |conn| {
            let group = Group::find(conn, id, group_id)?.ok_or(PortalError::NotFound)?;
            let mapping = Group::remove_mapping(conn, &group, mapping_id)?.ok_or(PortalError::NotFound)?;
            let removed = Assignment::revoke_source(conn, id, Who::Everyone, &source_key(group.id), Some(mapping.passle_id))?;
            record(conn, &group, &admin, "unmap", format!("mapping removed; {removed} assignment(s) it granted were removed"))
        })
        .await?;
    Ok(see_other(&format!("/c/{}/groups/{group_id}?notice=saved", access.company.shortcode)))
}
