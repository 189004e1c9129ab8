//! The product's provisioning rules, driven the way Entra drives them, on both databases.

use diesel::prelude::*;
use entrada::db::schema::{activity, passle_assignments, users};
use entrada::domain::{PassleName, ProvisioningMode, Role};
use entrada::models::passle::Passle;
use entrada::models::{Company, CompanyId};
use serde_json::json;

use crate::helpers::{Backend, Scim, TestApp, entra_user, patch_op};
use crate::{on_both_backends, spawn};

on_both_backends!(
    new_people_are_set_up_by_the_company_mode_and_later_mode_changes_rewrite_nobody,
    an_existing_manual_person_is_matched_and_linked_never_duplicated,
    a_create_without_any_email_is_refused_and_recorded_for_admins,
    job_title_is_applied_only_when_sync_is_on,
    disable_keeps_everything_and_enable_restores_it,
    delete_deprovisions_and_a_later_create_restores_the_same_person,
);

fn company(app: &TestApp, scim: &Scim) -> Company {
    Company::find_by_shortcode(&mut app.conn(), &scim.shortcode).unwrap().unwrap()
}

fn add_passles(app: &TestApp, company: CompanyId, names: &[&str]) -> Vec<i64> {
    let mut conn = app.conn();
    names.iter().map(|n| Passle::create(&mut conn, company, &PassleName::parse(n).unwrap()).unwrap().id).collect()
}

/// (role, sorted Passle ids) of the person with this userName.
fn setup_of(app: &TestApp, user_name: &str) -> (Option<String>, Vec<i64>) {
    let mut conn = app.conn();
    let (id, role): (i64, Option<String>) = users::table
        .filter(users::user_name_lower.eq(user_name.to_lowercase()))
        .select((users::id, users::role))
        .first(&mut conn)
        .unwrap();
    let mut passles: Vec<i64> = passle_assignments::table
        .filter(passle_assignments::user_id.eq(id))
        .select(passle_assignments::passle_id)
        .load(&mut conn)
        .unwrap();
    passles.sort();
    (role, passles)
}

async fn new_people_are_set_up_by_the_company_mode_and_later_mode_changes_rewrite_nobody(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = company(&app, &scim).company_id();
    let passles = add_passles(&app, id, &["News", "Insights", "Events"]);

    scim.create_user("none@acme.example").await;
    assert_eq!(setup_of(&app, "none@acme.example"), (None, vec![]));

    Company::set_provisioning_mode(&mut app.conn(), id, ProvisioningMode::AllPassles).unwrap();
    scim.create_user("all@acme.example").await;
    let mut all = passles.clone();
    all.sort();
    assert_eq!(setup_of(&app, "all@acme.example"), (Some(Role::ContentCreator.as_str().into()), all.clone()));

    Company::set_provisioning_mode(&mut app.conn(), id, ProvisioningMode::SelectedPassles).unwrap();
    Passle::set_selected_for_provisioning(&mut app.conn(), id, &[passles[0], passles[2]]).unwrap();
    scim.create_user("chosen@acme.example").await;
    let mut chosen = vec![passles[0], passles[2]];
    chosen.sort();
    assert_eq!(setup_of(&app, "chosen@acme.example"), (Some("content_creator".into()), chosen));

    // Changing the mode never rewrites existing people.
    assert_eq!(setup_of(&app, "none@acme.example"), (None, vec![]));
    assert_eq!(setup_of(&app, "all@acme.example").1, all);
}

async fn an_existing_manual_person_is_matched_and_linked_never_duplicated(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = company(&app, &scim).company_id();
    let passles = add_passles(&app, id, &["News"]);
    // An admin created Ines by hand, with her own role and Passle.
    {
        use entrada::domain::UserAttributes;
        use entrada::models::assignment::Assignment;
        use entrada::models::user::{NewPerson, User};
        let attrs = UserAttributes { user_name: "Ines.Moreau@ACME.example".into(), ..Default::default() };
        let mut conn = app.conn();
        let user = User::insert(&mut conn, id, NewPerson::of(&attrs, "manual").role(Some("editor")), None).unwrap();
        Assignment::grant(&mut conn, id, user.row.id, &passles, Role::Editor, "manual").unwrap();
    }
    // Entra's matching query finds her, case-insensitively.
    let found = scim.filter_users("userName eq \"ines.moreau@acme.example\"").await;
    assert_eq!(found.body["totalResults"], 1);
    // A POST for her links the existing record and answers as a create.
    let created = scim.post("/Users", entra_user("ines.moreau@acme.example")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["id"], found.body["Resources"][0]["id"]);
    assert_eq!(created.body["externalId"], "ines.moreau");
    let count: i64 = users::table.filter(users::company_id.eq(id.0)).count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);
    let source: String = users::table.select(users::source).first(&mut app.conn()).unwrap();
    assert_eq!(source, "entra");
    assert_eq!(setup_of(&app, "ines.moreau@acme.example"), (Some("editor".into()), passles.clone()));
    // A second POST is a duplicate now: 409.
    let again = scim.post("/Users", entra_user("ines.moreau@acme.example")).await;
    assert_eq!(again.status, 409);
    assert_eq!(again.body["scimType"], "uniqueness");
    // No SCIM request changes her role or Passles.
    let uid = created.body["id"].as_str().unwrap();
    let patched = scim.patch(&format!("/Users/{uid}"), patch_op(json!([{"op": "Replace", "path": "displayName", "value": "Ines M"}, {"op": "Add", "path": "roles", "value": [{"value": "Admin"}]}]))).await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(setup_of(&app, "ines.moreau@acme.example"), (Some("editor".into()), passles));
}

async fn a_create_without_any_email_is_refused_and_recorded_for_admins(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let response = scim.post("/Users", json!({"userName": "jdoe", "name": {"givenName": "J"}, "emails": [{"value": "not-an-email", "type": "work"}]})).await;
    assert_eq!(response.status, 400);
    assert_eq!(response.body["scimType"], "invalidValue");
    assert!(response.body["detail"].as_str().unwrap().contains("email address is required"));
    let recorded: Vec<(String, String, Option<String>, String)> = activity::table
        .select((activity::operation, activity::outcome, activity::subject, activity::detail))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].0, "create");
    assert_eq!(recorded[0].1, "failure");
    assert_eq!(recorded[0].2.as_deref(), Some("jdoe"));
    assert!(recorded[0].3.contains("email address is required"));
}

fn job_title(app: &TestApp, user_name: &str) -> Option<String> {
    users::table.filter(users::user_name_lower.eq(user_name)).select(users::job_title).first(&mut app.conn()).unwrap()
}

async fn job_title_is_applied_only_when_sync_is_on(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = company(&app, &scim).company_id();
    let off = scim.create_user("off@acme.example").await;
    assert_eq!(job_title(&app, "off@acme.example"), None, "sync off: title recorded, not applied");
    let read = scim.get(&format!("/Users/{off}")).await;
    assert_eq!(read.body["title"], "Site Lead", "SCIM still echoes what Entra sent");
    let details: Vec<String> = activity::table.select(activity::detail).load(&mut app.conn()).unwrap();
    assert!(details.iter().any(|d| d.contains("title received but not applied")), "{details:?}");

    Company::set_job_title_sync(&mut app.conn(), id, true).unwrap();
    let on = scim.create_user("on@acme.example").await;
    assert_eq!(job_title(&app, "on@acme.example").as_deref(), Some("Site Lead"));
    scim.patch(&format!("/Users/{on}"), patch_op(json!([{"op": "Replace", "path": "title", "value": "Director"}]))).await;
    assert_eq!(job_title(&app, "on@acme.example").as_deref(), Some("Director"));
}

async fn disable_keeps_everything_and_enable_restores_it(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = company(&app, &scim).company_id();
    add_passles(&app, id, &["News"]);
    Company::set_provisioning_mode(&mut app.conn(), id, ProvisioningMode::AllPassles).unwrap();
    let uid = scim.create_user("ines@acme.example").await;
    let before = setup_of(&app, "ines@acme.example");
    for value in [json!("False"), json!("false"), json!(false)] {
        let r = scim.patch(&format!("/Users/{uid}"), patch_op(json!([{"op": "Replace", "path": "active", "value": value}]))).await;
        assert_eq!(r.body["active"], false);
        assert_eq!(setup_of(&app, "ines@acme.example"), before, "role and Passles stay while disabled");
        let r = scim.patch(&format!("/Users/{uid}"), patch_op(json!([{"op": "replace", "path": "active", "value": "True"}]))).await;
        assert_eq!(r.body["active"], true);
    }
    let ops: Vec<String> = activity::table.order(activity::id).select(activity::operation).load(&mut app.conn()).unwrap();
    assert_eq!(ops, ["create", "disable", "enable", "disable", "enable", "disable", "enable"]);
}

async fn delete_deprovisions_and_a_later_create_restores_the_same_person(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let id = company(&app, &scim).company_id();
    add_passles(&app, id, &["News"]);
    Company::set_provisioning_mode(&mut app.conn(), id, ProvisioningMode::AllPassles).unwrap();
    let uid = scim.create_user("ines@acme.example").await;
    let before = setup_of(&app, "ines@acme.example");
    assert_eq!(scim.delete(&format!("/Users/{uid}")).await.status, 204);
    assert_eq!(scim.get(&format!("/Users/{uid}")).await.status, 404);
    assert_eq!(scim.filter_users("userName eq \"ines@acme.example\"").await.body["totalResults"], 0);
    let kept: Option<chrono::NaiveDateTime> = users::table.select(users::deprovisioned_at).first(&mut app.conn()).unwrap();
    assert!(kept.is_some(), "the person is kept, marked deprovisioned");
    let restored = scim.post("/Users", entra_user("ines@acme.example")).await;
    assert_eq!(restored.status, 201);
    assert_eq!(restored.body["id"], uid, "the same person is restored and relinked");
    assert_eq!(setup_of(&app, "ines@acme.example"), before);
    let count: i64 = users::table.count().get_result(&mut app.conn()).unwrap();
    assert_eq!(count, 1);
}
