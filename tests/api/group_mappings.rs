//! Group mappings (the rules): an admin maps a group to Passles with a role (Content
//! Creator or Editor); members get that role there while they are members, including people
//! who join later; leaving removes only what the mapping granted (hand-made and user
//! configuration assignments stay); the person's page shows where each assignment comes from;
//! every group change is in the provisioning activity.
//!
//! Mappings are made through the portal (`POST /c/{shortcode}/groups/{id}/mappings` as the
//! company's admin), membership through SCIM as Entra sends it; assignments are checked in
//! `passle_assignments` (source `group:<group db id>` for a mapping).

use diesel::prelude::*;
use entrada::db::schema::{activity, group_mappings, groups};
use entrada::domain::ProvisioningMode;
use entrada::models::Company;
use serde_json::json;

use crate::helpers::{Backend, Scim, TestApp};
use crate::on_both_backends;
use crate::portal::{Page, Portal, add_passle, admin_portal, assignments_of, person_id};
use crate::scim_groups::{acme_groups, add_members, members_of, patch_group, remove_member};

on_both_backends!(
    members_added_after_the_mapping_get_its_role_on_every_mapped_passle,
    members_present_before_the_mapping_get_it_when_it_is_created,
    a_newcomer_joining_a_mapped_group_leaves_the_existing_members_grants_alone,
    a_mapping_takes_only_content_creator_or_editor_and_only_the_companys_passles,
    leaving_the_group_removes_only_the_group_assignment_and_keeps_the_hand_made_one,
    deleting_the_group_revokes_its_grants_and_keeps_the_people_and_other_groups_grants,
    removing_a_mapping_removes_exactly_the_assignments_it_granted,
    two_sources_with_different_roles_on_one_passle_are_both_shown_on_the_persons_page,
    every_group_change_is_recorded_in_the_provisioning_activity,
);

async fn members_added_after_the_mapping_get_its_role_on_every_mapped_passle(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    s.map(gid, &[s.news, s.events], "editor").await;
    let page = s.admin.get(&format!("/c/acme/groups/{gid}")).await;
    assert!(page.has("Editor on <strong>News</strong>") && page.has("Editor on <strong>Events</strong>"), "{}", page.describe());

    let (ana, ana_id) = s.person("ana").await;
    add_members(&s.scim, &g, &[&ana]).await;
    let granted = sorted(vec![(s.news, "editor".to_owned(), format!("group:{gid}")), (s.events, "editor".to_owned(), format!("group:{gid}"))]);
    assert_eq!(assignments(&s.app, ana_id), granted, "a member added after the mapping gets its role on both Passles");

    // Someone joining later gets it too, and the earlier member keeps it.
    let (bo, bo_id) = s.person("bo").await;
    add_members(&s.scim, &g, &[&bo]).await;
    assert_eq!(assignments(&s.app, bo_id), granted);
    assert_eq!(assignments(&s.app, ana_id), granted, "another member joining does not take the grant away");

    // A PATCH that only renames the group leaves every grant alone.
    patch_group(&s.scim, &g, json!([{"op": "Replace", "path": "displayName", "value": "Field Engineers EMEA"}])).await;
    assert_eq!(assignments(&s.app, ana_id), granted);
    assert_eq!(assignments(&s.app, bo_id), granted);
}

async fn members_present_before_the_mapping_get_it_when_it_is_created(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    let (bo, bo_id) = s.person("bo").await;
    let (_cy, cy_id) = s.person("cy").await;
    add_members(&s.scim, &g, &[&ana, &bo]).await;
    assert!(assignments(&s.app, ana_id).is_empty(), "no mapping yet, nothing granted");

    s.map(gid, &[s.news], "content_creator").await;
    let news_cc = vec![(s.news, "content_creator".to_owned(), format!("group:{gid}"))];
    assert_eq!(assignments(&s.app, ana_id), news_cc);
    assert_eq!(assignments(&s.app, bo_id), news_cc);
    assert!(assignments(&s.app, cy_id).is_empty(), "not a member, nothing granted");
    let page = s.admin.get(&format!("/c/acme/groups/{gid}")).await;
    assert!(page.has("Content Creator on <strong>News</strong>"), "{}", page.describe());
    assert!(page.has("Members (2)"), "{}", page.describe());
}

async fn a_newcomer_joining_a_mapped_group_leaves_the_existing_members_grants_alone(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    add_members(&s.scim, &g, &[&ana]).await;
    s.map(gid, &[s.news], "editor").await;
    let news_editor = vec![(s.news, "editor".to_owned(), format!("group:{gid}"))];
    assert_eq!(assignments(&s.app, ana_id), news_editor, "granted when the mapping was made");

    let (bo, bo_id) = s.person("bo").await;
    add_members(&s.scim, &g, &[&bo]).await;
    assert_eq!(assignments(&s.app, ana_id), news_editor, "Ana is still a member: her grant must stay when Bo joins");
    assert_eq!(assignments(&s.app, bo_id), news_editor, "Bo joined a mapped group");
}

async fn a_mapping_takes_only_content_creator_or_editor_and_only_the_companys_passles(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    add_members(&s.scim, &g, &[&ana]).await;
    let other = crate::portal::create_company(&s.app, "globex", "Globex", true);
    let foreign = add_passle(&s.app, &other, "Globex News");

    let path = format!("/c/acme/groups/{gid}/mappings");
    let news = s.news.to_string();
    let administrator = s.admin.form(&path, &[("role", "administrator"), ("passle", &news)]).await;
    assert_eq!(administrator.status, 400, "{}", administrator.describe());
    let foreign = foreign.to_string();
    let stranger = s.admin.form(&path, &[("role", "editor"), ("passle", &foreign)]).await;
    assert_eq!(stranger.status, 400, "{}", stranger.describe());
    assert!(stranger.has("Choose at least one Passle."), "{}", stranger.describe());
    let no_csrf = s.admin.post(&path, &[("role", "editor"), ("passle", &news)]).await;
    assert!(no_csrf.status >= 400, "{}", no_csrf.describe());

    let mappings: i64 = group_mappings::table.count().get_result(&mut s.app.conn()).unwrap();
    assert_eq!(mappings, 0, "refused forms map nothing");
    assert!(assignments(&s.app, ana_id).is_empty());
}

async fn leaving_the_group_removes_only_the_group_assignment_and_keeps_the_hand_made_one(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    let (bo, bo_id) = s.person("bo").await;
    // An admin puts Ana on News by hand, as Editor.
    let saved = s.admin.form(&format!("/c/acme/users/{ana_id}/access"), &[("role", "editor"), ("passle", &s.news.to_string())]).await;
    assert_eq!(saved.status, 303, "{}", saved.describe());
    assert_eq!(assignments(&s.app, ana_id), [(s.news, "editor".to_owned(), "manual".to_owned())]);

    add_members(&s.scim, &g, &[&ana, &bo]).await;
    s.map(gid, &[s.news, s.events], "content_creator").await;
    let source = format!("group:{gid}");
    let group_grants = vec![(s.news, "content_creator".to_owned(), source.clone()), (s.events, "content_creator".to_owned(), source.clone())];
    let mut ana_before = group_grants.clone();
    ana_before.push((s.news, "editor".to_owned(), "manual".to_owned()));
    assert_eq!(assignments(&s.app, ana_id), sorted(ana_before));

    // Entra removes Ana (F-OLD shape): only the mapping's assignments go.
    remove_member(&s.scim, &g, &ana).await;
    assert_eq!(assignments(&s.app, ana_id), [(s.news, "editor".to_owned(), "manual".to_owned())], "the hand-made assignment stays");
    assert_eq!(assignments(&s.app, bo_id), sorted(group_grants.clone()), "the other member keeps the group's grant");

    // F-NEW shape for Bo: nothing is left.
    patch_group(&s.scim, &g, json!([{"op": "remove", "path": format!("members[value eq \"{bo}\"]")}])).await;
    assert!(assignments(&s.app, bo_id).is_empty());
    let page = s.admin.get(&format!("/c/acme/users/{ana_id}")).await;
    assert!(page.has("Editor (set by an admin)") && !page.has("(group mapping)"), "{}", page.describe());
}

async fn deleting_the_group_revokes_its_grants_and_keeps_the_people_and_other_groups_grants(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let h = s.scim.create_group("Writers").await;
    let (gid, hid) = (group_db_id(&s.app, &g), group_db_id(&s.app, &h));
    let (ana, ana_id) = s.person("ana").await;
    let (bo, bo_id) = s.person("bo").await;
    let saved = s.admin.form(&format!("/c/acme/users/{ana_id}/access"), &[("role", "editor"), ("passle", &s.events.to_string())]).await;
    assert_eq!(saved.status, 303, "{}", saved.describe());
    add_members(&s.scim, &g, &[&ana, &bo]).await;
    add_members(&s.scim, &h, &[&bo]).await;
    s.map(gid, &[s.news], "editor").await;
    s.map(hid, &[s.news], "content_creator").await;
    assert_eq!(
        assignments(&s.app, bo_id),
        sorted(vec![(s.news, "editor".to_owned(), format!("group:{gid}")), (s.news, "content_creator".to_owned(), format!("group:{hid}"))])
    );

    let deleted = s.scim.delete(&format!("/Groups/{g}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(assignments(&s.app, ana_id), [(s.events, "editor".to_owned(), "manual".to_owned())], "the hand-made assignment stays");
    assert_eq!(assignments(&s.app, bo_id), [(s.news, "content_creator".to_owned(), format!("group:{hid}"))], "the other group's grant stays");
    let left: i64 = group_mappings::table.filter(group_mappings::group_id.eq(gid)).count().get_result(&mut s.app.conn()).unwrap();
    assert_eq!(left, 0, "the deleted group's mappings are gone");

    for (user, id) in [(&ana, ana_id), (&bo, bo_id)] {
        assert_eq!(s.scim.get(&format!("/Users/{user}")).await.status, 200, "the people stay");
        assert_eq!(s.admin.get(&format!("/c/acme/users/{id}")).await.status, 200);
    }
    assert_eq!(s.admin.get(&format!("/c/acme/groups/{gid}")).await.status, 404);
    assert_eq!(members_of(&s.scim, &h).await, [bo.clone()]);
}

async fn removing_a_mapping_removes_exactly_the_assignments_it_granted(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    let saved = s.admin.form(&format!("/c/acme/users/{ana_id}/access"), &[("role", "editor"), ("passle", &s.news.to_string())]).await;
    assert_eq!(saved.status, 303, "{}", saved.describe());
    add_members(&s.scim, &g, &[&ana]).await;
    s.map(gid, &[s.news, s.events], "editor").await;

    let news_mapping: i64 = group_mappings::table
        .filter(group_mappings::group_id.eq(gid))
        .filter(group_mappings::passle_id.eq(s.news))
        .select(group_mappings::id)
        .first(&mut s.app.conn())
        .unwrap();
    let removed = s.admin.form(&format!("/c/acme/groups/{gid}/mappings/{news_mapping}/delete"), &[]).await;
    assert_eq!((removed.status, removed.location()), (303, format!("/c/acme/groups/{gid}?notice=saved").as_str()), "{}", removed.describe());
    assert_eq!(
        assignments(&s.app, ana_id),
        sorted(vec![(s.news, "editor".to_owned(), "manual".to_owned()), (s.events, "editor".to_owned(), format!("group:{gid}"))])
    );
    let page = s.admin.get(&format!("/c/acme/groups/{gid}")).await;
    assert!(page.has("Editor on <strong>Events</strong>") && !page.has("on <strong>News</strong>"), "{}", page.describe());
}

async fn two_sources_with_different_roles_on_one_passle_are_both_shown_on_the_persons_page(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    // User configuration: new people are Content Creators on every Passle.
    Company::set_provisioning_mode(&mut s.app.conn(), s.company.company_id(), ProvisioningMode::AllPassles).unwrap();
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    let (ana, ana_id) = s.person("ana").await;
    add_members(&s.scim, &g, &[&ana]).await;
    s.map(gid, &[s.news], "editor").await;

    assert_eq!(
        assignments(&s.app, ana_id),
        sorted(vec![
            (s.news, "content_creator".to_owned(), "configuration".to_owned()),
            (s.news, "editor".to_owned(), format!("group:{gid}")),
            (s.events, "content_creator".to_owned(), "configuration".to_owned()),
        ])
    );
    let page = s.admin.get(&format!("/c/acme/users/{ana_id}")).await;
    assert_eq!(page.status, 200);
    let news_line = passle_line(&page, "News");
    assert!(news_line.contains("Editor (group mapping)"), "{news_line}");
    assert!(news_line.contains("Content Creator (user configuration)"), "{news_line}");
    // The higher role applies, and the page says so.
    assert!(news_line.contains("News: <strong>Editor</strong>") && news_line.contains("the higher role applies"), "{news_line}");
    let events_line = passle_line(&page, "Events");
    assert!(events_line.contains("Content Creator (user configuration)") && !events_line.contains("group mapping"), "{events_line}");

    // Leaving the group leaves the configuration's assignment alone.
    remove_member(&s.scim, &g, &ana).await;
    let news_line = passle_line(&s.admin.get(&format!("/c/acme/users/{ana_id}")).await, "News");
    assert!(news_line.contains("Content Creator (user configuration)") && !news_line.contains("Editor (group mapping)"), "{news_line}");
    assert!(news_line.contains("News: <strong>Content Creator</strong>"), "{news_line}");
}

async fn every_group_change_is_recorded_in_the_provisioning_activity(backend: Backend) {
    let Some(s) = Setup::new(backend).await else { return };
    let (ana, _) = s.person("ana").await;
    let g = s.scim.create_group("Field Engineers").await;
    let gid = group_db_id(&s.app, &g);
    add_members(&s.scim, &g, &[&ana]).await;
    patch_group(&s.scim, &g, json!([{"op": "replace", "value": {"displayName": "Field Engineers EMEA"}}])).await;
    s.map(gid, &[s.news], "editor").await;
    remove_member(&s.scim, &g, &ana).await;
    let refused = s.scim.patch(&format!("/Groups/{g}"), crate::helpers::patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": "usr_nobody"}]}]))).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(s.scim.delete(&format!("/Groups/{g}")).await.status, 204);

    let events: Vec<(String, String, Option<String>, String, i32, String)> = activity::table
        .filter(activity::resource_type.eq("Group"))
        .filter(activity::resource_id.eq(&g))
        .order(activity::id)
        .select((activity::actor, activity::operation, activity::subject, activity::outcome, activity::status, activity::detail))
        .load(&mut s.app.conn())
        .unwrap();
    let summary: Vec<(&str, &str, &str)> = events.iter().map(|e| (e.0.as_str(), e.1.as_str(), e.3.as_str())).collect();
    assert_eq!(
        summary,
        [
            ("Entra ID", "create", "success"),
            ("Entra ID", "update", "success"),
            ("Entra ID", "update", "success"),
            ("admin@acme.example", "map", "success"),
            ("Entra ID", "update", "success"),
            ("Entra ID", "update", "failure"),
            ("Entra ID", "delete", "success"),
        ],
        "{events:#?}"
    );
    let detail = |i: usize| events[i].5.as_str();
    assert_eq!(events[0].2.as_deref(), Some("Field Engineers"));
    assert!(detail(0).contains("group created"), "{}", detail(0));
    assert!(detail(1).contains("members: 1 added, 0 removed"), "{}", detail(1));
    assert!(detail(2).contains("displayName = \"Field Engineers EMEA\""), "{}", detail(2));
    assert!(detail(3).contains("mapped to 1 Passle(s) as Editor"), "{}", detail(3));
    assert!(detail(4).contains("members: 0 added, 1 removed"), "{}", detail(4));
    assert_eq!(events[5].4, 400);
    assert!(detail(5).contains("usr_nobody"), "{}", detail(5));
    assert_eq!(events[6].2.as_deref(), Some("Field Engineers EMEA"));
    assert!(detail(6).contains("group deleted"), "{}", detail(6));

    let page = s.admin.get("/c/acme/activity").await;
    assert_eq!(page.status, 200);
    for text in ["group created", "members: 1 added, 0 removed", "group deleted", "Field Engineers EMEA", "Failed (400)", "usr_nobody"] {
        assert!(page.has(text), "{text} on the activity page: {}", page.describe());
    }
}

// ----- helpers -----

/// Company `acme` with groups on, Passles News and Events, and its admin signed in.
struct Setup {
    app: TestApp,
    scim: Scim,
    company: Company,
    admin: Portal,
    news: i64,
    events: i64,
}

impl Setup {
    async fn new(backend: Backend) -> Option<Setup> {
        let (app, scim) = acme_groups(backend).await?;
        let company = Company::find_by_shortcode(&mut app.conn(), "acme").unwrap().unwrap();
        let news = add_passle(&app, &company, "News");
        let events = add_passle(&app, &company, "Events");
        let admin = admin_portal(&app, &company, "admin@acme.example").await;
        Some(Setup { app, scim, company, admin, news, events })
    }

    /// A person created by Entra: SCIM id and internal id.
    async fn person(&self, name: &str) -> (String, i64) {
        let user_name = format!("{name}@acme.example");
        let scim_id = self.scim.create_user(&user_name).await;
        (scim_id, person_id(&self.app, &user_name))
    }

    /// Maps the group to these Passles with `role` on the group's page; must succeed.
    async fn map(&self, group_id: i64, passles: &[i64], role: &str) {
        let ids: Vec<String> = passles.iter().map(i64::to_string).collect();
        let mut fields = vec![("role", role)];
        fields.extend(ids.iter().map(|id| ("passle", id.as_str())));
        let page = self.admin.form(&format!("/c/acme/groups/{group_id}/mappings"), &fields).await;
        assert_eq!((page.status, page.location()), (303, format!("/c/acme/groups/{group_id}?notice=saved").as_str()), "{}", page.describe());
    }
}

fn group_db_id(app: &TestApp, scim_id: &str) -> i64 {
    groups::table.filter(groups::scim_id.eq(scim_id)).select(groups::id).first(&mut app.conn()).unwrap()
}

/// (Passle id, role, source) of a person's assignments, sorted.
fn assignments(app: &TestApp, user_id: i64) -> Vec<(i64, String, String)> {
    sorted(assignments_of(app, user_id))
}

fn sorted(mut rows: Vec<(i64, String, String)>) -> Vec<(i64, String, String)> {
    rows.sort();
    rows
}

/// The text of the person page's line for one Passle (its name and where it comes from).
fn passle_line(page: &Page, passle: &str) -> String {
    let text = page.text();
    let at = text.find(&format!("<span>{passle}")).unwrap_or_else(|| panic!("no line for {passle}: {}", page.describe()));
    let end = at + text[at..].find("</label>").unwrap_or(text.len() - at);
    text[at..end].to_owned()
}
