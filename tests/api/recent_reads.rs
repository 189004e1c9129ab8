//! Entra's PATCH (or PUT) right after its `GET /Users/{id}` starts from the person that GET
//! read (`scim::recent_people`) instead of reading them again. These tests change the person
//! in between, as another instance sharing the database would, and check that the write
//! still applies to the person as stored.

use crate::helpers::Backend;
use entrada::models::Company;
use entrada::models::user::User;
use serde_json::json;

use crate::helpers::{Scim, TestApp, patch_op};
use crate::on_both_backends;
use crate::scim_groups::acme_groups;
use crate::spawn;

on_both_backends!(
    a_patch_after_a_get_applies_to_the_person_as_stored_when_another_writer_changed_them,
    a_patch_after_a_get_starts_from_what_the_get_read,
    a_patch_after_a_get_of_a_person_deleted_in_between_is_404,
    if_match_is_checked_against_the_stored_version_not_the_one_read_before,
    in_a_company_that_provisions_groups_a_patch_answers_with_the_current_groups,
    a_patch_refused_by_what_the_get_read_is_decided_on_the_person_as_stored,
);

/// Changes the person's displayName the way another instance would: a versioned update.
fn change_display_name_elsewhere(app: &TestApp, shortcode: &str, scim_id: &str, name: &str) {
    let mut conn = app.conn();
    let company = Company::find_by_shortcode(&mut conn, shortcode).unwrap().unwrap();
    let user = User::find_by_scim_id(&mut conn, &company, scim_id).unwrap().unwrap();
    let mut changed = user.attributes.clone();
    changed.display_name = Some(name.to_owned());
    User::update_attributes(&mut conn, &user.row, &user.attributes, &changed, None).unwrap().expect("the update applies");
}

async fn retitle(scim: &Scim, id: &str, title: &str) -> crate::helpers::ScimResponse {
    scim.patch(&format!("/Users/{id}"), patch_op(json!([{"op": "Replace", "path": "title", "value": title}]))).await
}

async fn a_patch_after_a_get_applies_to_the_person_as_stored_when_another_writer_changed_them(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = scim.create_user("ann@a01.example").await;
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    change_display_name_elsewhere(&app, "a01", &id, "Changed Elsewhere");

    let patched = retitle(&scim, &id, "Engineer").await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["displayName"], "Changed Elsewhere", "the other writer's change is kept");
    assert_eq!(patched.body["title"], "Engineer");
    assert_eq!(patched.body["meta"]["version"], "W/\"3\"");
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body, patched.body, "what the PATCH answered is what is stored");

    // A PUT after a GET too: it replaces from the stored version, and its answer is stored.
    let mut replacement = crate::helpers::entra_user("ann@a01.example");
    replacement["displayName"] = json!("Put Name");
    change_display_name_elsewhere(&app, "a01", &id, "Changed Again");
    let put = scim.put(&format!("/Users/{id}"), replacement).await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(put.body["meta"]["version"], "W/\"5\"");
    assert_eq!(scim.get(&format!("/Users/{id}")).await.body, put.body);
}

/// Nothing of the product writes a person's SCIM attributes without a new version, so a
/// PATCH may start from the GET just before it. Shown here by a change no code path makes
/// (the stored name altered, the version kept): the PATCH does not see it, proving it did not
/// read the person again. The same PATCH a second later reads them.
async fn a_patch_after_a_get_starts_from_what_the_get_read(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = scim.create_user("bea@a01.example").await;
    let unversioned_rename = |name: &str| {
        use diesel::prelude::*;
        use entrada::db::schema::users;
        let mut conn = app.conn();
        entrada::per_backend!(&mut conn, c => diesel::update(users::table.filter(users::scim_id.eq(&id))).set(users::display_name.eq(name)).execute(c)).unwrap();
    };
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    unversioned_rename("Not Seen");
    let first = retitle(&scim, &id, "One").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_ne!(first.body["displayName"], "Not Seen", "started from what the GET read");

    unversioned_rename("Seen");
    let second = retitle(&scim, &id, "Two").await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.body["displayName"], "Seen", "without a GET just before, the PATCH reads the person");
}

async fn a_patch_after_a_get_of_a_person_deleted_in_between_is_404(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = scim.create_user("cy@a01.example").await;
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    let patched = retitle(&scim, &id, "Ghost").await;
    assert_eq!(patched.status, 404, "{}", patched.body);
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 404, "still deprovisioned");
}

async fn if_match_is_checked_against_the_stored_version_not_the_one_read_before(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = scim.create_user("dov@a01.example").await;
    assert_eq!(scim.get(&format!("/Users/{id}")).await.body["meta"]["version"], "W/\"1\"");
    change_display_name_elsewhere(&app, "a01", &id, "Version Two");
    let body = patch_op(json!([{"op": "Replace", "path": "title", "value": "Lead"}])).to_string();
    let patched = scim.send_with("PATCH", &format!("/Users/{id}"), Some(body), &[("If-Match", "W/\"2\"")]).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!((&patched.body["displayName"], &patched.body["title"]), (&json!("Version Two"), &json!("Lead")));
}

async fn in_a_company_that_provisions_groups_a_patch_answers_with_the_current_groups(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_user("eve@acme.example").await;
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    let group = scim.post("/Groups", json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Field", "members": [{"value": id}]})).await;
    assert_eq!(group.status, 201, "{}", group.body);
    let patched = retitle(&scim, &id, "Engineer").await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["groups"][0]["value"], group.body["id"], "{}", patched.body);
}

/// The GET's person had one email; another writer added a second before the PATCH that
/// removes the first. Applied to what the GET read, the PATCH would leave no email and be
/// refused; the person as stored keeps one, so it applies.
async fn a_patch_refused_by_what_the_get_read_is_decided_on_the_person_as_stored(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    // A userName that is not an email address: the person's email comes from `emails` only.
    let mut body = crate::helpers::entra_user("jo");
    body["emails"] = json!([{"type": "work", "value": "jo@a01.example"}]);
    let created = scim.post("/Users", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(scim.get(&format!("/Users/{id}")).await.status, 200);
    {
        let mut conn = app.conn();
        let company = Company::find_by_shortcode(&mut conn, "a01").unwrap().unwrap();
        let user = User::find_by_scim_id(&mut conn, &company, &id).unwrap().unwrap();
        let mut changed = user.attributes.clone();
        let home = json!({"type": "home", "value": "jo@home.example"});
        changed.multi.entry("emails".to_owned()).or_default().push(home.as_object().unwrap().clone());
        User::update_attributes(&mut conn, &user.row, &user.attributes, &changed, None).unwrap().expect("the update applies");
    }
    let patched = scim.patch(&format!("/Users/{id}"), patch_op(json!([{"op": "Remove", "path": "emails[type eq \"work\"]"}]))).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["emails"], json!([{"type": "home", "value": "jo@home.example"}]));
}
