//! SCIM Users: authentication, the request/response contract, and Entra's main flows.

use serde_json::json;

use crate::helpers::{Backend, entra_user, patch_op};
use crate::{on_both_backends, spawn};

on_both_backends!(entra_initial_cycle_create_then_read_back_unchanged);

async fn entra_initial_cycle_create_then_read_back_unchanged(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let miss = scim.filter_users("userName eq \"ines@acme.example\"").await;
    assert_eq!(miss.status, 200);
    assert_eq!(miss.body["totalResults"], 0);
    assert_eq!(miss.body["Resources"], json!([]));
    assert_eq!(miss.header("content-type"), Some("application/scim+json; charset=utf-8"));

    let created = scim.post("/Users", entra_user("ines@acme.example")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    assert_eq!(created.header("location"), Some(format!("{}/Users/{id}", scim.base).as_str()));
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body, created.body, "what Entra writes, it reads back");
    let found = scim.filter_users("userName eq \"INES@acme.example\"").await;
    assert_eq!(found.body["totalResults"], 1);
    assert_eq!(found.body["Resources"][0], created.body);

    let disabled = scim.patch(&format!("/Users/{id}"), patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]))).await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    assert_eq!(disabled.body["active"], false);
    assert_eq!(disabled.header("etag"), Some("W/\"2\""));
}

on_both_backends!(a_patch_writes_only_the_values_it_changes_and_everything_reads_back);

/// A PATCH changes the values it names, drops and re-numbers what it removes and adds what is
/// new; everything reads back and filters find the new values, through the indexed lookups
/// (emails, extension attributes) and through the person's document (phone numbers, nickName).
async fn a_patch_writes_only_the_values_it_changes_and_everything_reads_back(backend: Backend) {
    let app = spawn!(backend);
    let scim = app.scim_company("a01");
    let mut body = entra_user("dora@acme.example");
    body["phoneNumbers"] = json!([
        {"type": "work", "value": "+33 1 00 00 00 01"},
        {"type": "fax", "value": "+33 1 00 00 00 02"},
        {"type": "mobile", "value": "+33 6 00 00 00 03"}
    ]);
    let created = scim.post("/Users", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let enterprise = |name: &str| format!("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:{name}");
    let before = stored_lookups(&app, &id);
    let keys: Vec<(String, i32)> = before.iter().map(|(a, p, _)| (a.clone(), *p)).collect();
    assert_eq!(keys, [("emails".to_owned(), 0), (enterprise("department"), 0), (enterprise("employeeNumber"), 0)], "{before:?}");

    let patched = scim
        .patch(
            &format!("/Users/{id}"),
            patch_op(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "dora.new@acme.example"},
                {"op": "Remove", "path": "phoneNumbers[type eq \"fax\"]"},
                {"op": "Add", "path": "nickName", "value": "Dee"}
            ])),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body, patched.body, "what the PATCH answered is what is stored");
    assert_eq!(read.body["emails"], json!([{"primary": true, "type": "work", "value": "dora.new@acme.example"}]));
    assert_eq!(
        read.body["phoneNumbers"],
        json!([{"type": "work", "value": "+33 1 00 00 00 01"}, {"type": "mobile", "value": "+33 6 00 00 00 03"}])
    );
    assert_eq!(read.body["nickName"], "Dee");
    assert_eq!(read.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"], created.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]);
    assert_eq!(read.body["name"], created.body["name"]);

    // Filters see the new values and no longer the old ones.
    let hits = |filter: &'static str| {
        let scim = &scim;
        async move { scim.filter_users(filter).await.body["totalResults"].clone() }
    };
    assert_eq!(hits("emails[type eq \"work\"].value eq \"DORA.NEW@acme.example\"").await, 1);
    assert_eq!(hits("emails[type eq \"work\"].value eq \"dora@acme.example\"").await, 0);
    assert_eq!(hits("phoneNumbers.value eq \"+33 6 00 00 00 03\"").await, 1);
    assert_eq!(hits("phoneNumbers.value eq \"+33 1 00 00 00 02\"").await, 0);

    assert_eq!(hits("phoneNumbers[type eq \"mobile\" and value sw \"+33 6\"]").await, 1);
    assert_eq!(hits("phoneNumbers[type eq \"fax\"]").await, 0);
    assert_eq!(hits("nickName eq \"DEE\"").await, 1);
    assert_eq!(hits("nickName pr and not (phoneNumbers.value co \"00 02\")").await, 1);

    // The email's lookup row follows the PATCH; the extension attributes' are as they were.
    let after = stored_lookups(&app, &id);
    assert_eq!(after[0], ("emails".to_owned(), 0, Some("dora.new@acme.example".to_owned())));
    assert_eq!(after[1..], before[1..]);
    assert_eq!(after.len(), 3, "nickName and phone numbers are not indexed: {after:?}");

    // A change that leaves userName, externalId and email alone (the UPDATE leaves their
    // indexed columns out) reads back whole, and the identity still finds the person.
    let retitled = scim.patch(&format!("/Users/{id}"), patch_op(json!([{"op": "Replace", "path": "title", "value": "Site Manager"}]))).await;
    assert_eq!(retitled.status, 200, "{}", retitled.body);
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body, retitled.body);
    assert_eq!(read.body["title"], "Site Manager");
    assert_eq!(read.body["meta"]["version"], "W/\"3\"");
    assert_eq!((&read.body["userName"], &read.body["emails"], &read.body["externalId"]), (&patched.body["userName"], &patched.body["emails"], &patched.body["externalId"]));
    assert_eq!(hits("emails[type eq \"work\"].value eq \"dora.new@acme.example\"").await, 1);
    assert_eq!(scim.filter_users("userName eq \"dora@acme.example\"").await.body["Resources"][0]["title"], "Site Manager");
    assert_eq!(stored_lookups(&app, &id), after, "a title change leaves the lookups alone");
}

on_both_backends!(concurrent_patches_of_one_person_each_apply_once_with_their_values_and_event);

/// Entra's provision-on-demand can PATCH a person while a cycle does. Each PATCH that loses
/// the race to another re-reads the person and applies again: at the end every change is
/// there, each was recorded once, and the indexed values are those of the last version (on
/// PostgreSQL a losing attempt's lookup rows and event must not be written at all).
async fn concurrent_patches_of_one_person_each_apply_once_with_their_values_and_event(backend: Backend) {
    let app = spawn!(backend);
    let scim = std::sync::Arc::new(app.scim_company("a01"));
    let id = scim.create_user("rae@acme.example").await;
    // Four at once: whoever loses retries, and each round has a winner, within the 5 attempts.
    let patches: Vec<_> = (0..4)
        .map(|i| {
            let (scim, id) = (scim.clone(), id.clone());
            actix_web::rt::spawn(async move {
                let add = json!([{"op": "Add", "path": "emails", "value": [{"type": "other", "value": format!("rae.{i}@other.example")}]}]);
                scim.patch(&format!("/Users/{id}"), patch_op(add)).await
            })
        })
        .collect();
    for patch in patches {
        let patched = patch.await.unwrap();
        assert_eq!(patched.status, 200, "{}", patched.body);
    }
    let read = scim.get(&format!("/Users/{id}")).await;
    assert_eq!(read.body["meta"]["version"], "W/\"5\"");
    let mut others: Vec<&str> = read.body["emails"].as_array().unwrap().iter().filter(|e| e["type"] == "other").map(|e| e["value"].as_str().unwrap()).collect();
    others.sort();
    assert_eq!(others, ["rae.0@other.example", "rae.1@other.example", "rae.2@other.example", "rae.3@other.example"]);
    for i in 0..4 {
        let found = scim.filter_users(&format!("emails.value eq \"rae.{i}@other.example\"")).await;
        assert_eq!(found.body["totalResults"], 1, "email {i} is indexed");
    }
    let emails: Vec<_> = stored_lookups(&app, &id).into_iter().filter(|(a, _, _)| a == "emails").collect();
    assert_eq!(emails.len(), 5, "one lookup row per email of the last version: {emails:?}");
    let events: Vec<(String, i32)> = {
        use diesel::prelude::*;
        use entrada::db::schema::activity;
        let mut conn = app.conn();
        entrada::per_backend!(&mut conn, c => activity::table
            .filter(activity::resource_id.eq(&id))
            .select((activity::operation, activity::status))
            .order(activity::id)
            .load(c))
        .unwrap()
    };
    assert_eq!(events.len(), 5, "the create and each PATCH once: {events:?}");
    assert_eq!(events[0], ("create".to_owned(), 201));
    assert!(events[1..].iter().all(|(op, status)| op == "update" && *status == 200), "{events:?}");
}

/// (attribute, position, lower-cased value) of the person's indexed values.
fn stored_lookups(app: &crate::helpers::TestApp, scim_id: &str) -> Vec<(String, i32, Option<String>)> {
    use diesel::prelude::*;
    use entrada::db::schema::{user_lookups, users};
    let mut conn = app.conn();
    entrada::per_backend!(&mut conn, c => user_lookups::table
        .inner_join(users::table)
        .filter(users::scim_id.eq(scim_id))
        .select((user_lookups::attribute, user_lookups::position, user_lookups::value_lower))
        .order((user_lookups::attribute, user_lookups::position))
        .load(c))
    .expect("lookups")
}
