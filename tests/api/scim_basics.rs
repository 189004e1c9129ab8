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
