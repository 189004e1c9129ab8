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

/// A PATCH changes the values it names in place, drops and re-numbers what it removes, adds
/// what is new, and leaves every other stored value row as it was (not deleted and
/// re-inserted: that rewrote an index page per value on every incremental cycle).
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
    let before = stored_values(&app, &id);

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

    // Untouched rows keep their identity; the changed email and the shifted mobile number
    // are updated in place; the row past the end is gone and nickName is new.
    let after = stored_values(&app, &id);
    let row = |values: &[(i64, String, i32)], attribute: &str, position: i32| {
        values.iter().find(|(_, a, p)| a == attribute && *p == position).map(|(id, _, _)| *id)
    };
    for (attribute, position) in [("name.formatted", 0), ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", 0), ("emails", 0), ("phoneNumbers", 0), ("phoneNumbers", 1)] {
        assert!(row(&before, attribute, position).is_some(), "{attribute} was stored: {before:?}");
        assert_eq!(row(&after, attribute, position), row(&before, attribute, position), "{attribute}[{position}] kept its row");
    }
    assert_eq!(row(&after, "phoneNumbers", 2), None);
    assert!(row(&after, "nickName", 0).is_some_and(|new| before.iter().all(|(old, _, _)| new > *old)));
    assert_eq!(after.len(), before.len(), "one phone number fewer, one nickName more");

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
    assert_eq!(stored_values(&app, &id), after, "every value row kept by a title change");
}

/// (row id, attribute, position) of the person's stored values.
fn stored_values(app: &crate::helpers::TestApp, scim_id: &str) -> Vec<(i64, String, i32)> {
    use diesel::prelude::*;
    use entrada::db::schema::{user_values, users};
    let mut conn = app.conn();
    entrada::per_backend!(&mut conn, c => user_values::table
        .inner_join(users::table)
        .filter(users::scim_id.eq(scim_id))
        .select((user_values::id, user_values::attribute, user_values::position))
        .load(c))
    .expect("values")
}
