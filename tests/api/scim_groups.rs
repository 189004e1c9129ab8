//! `/Groups` as Entra ID drives it (ENTRA-SCIM.md §1.2 G1–G9, §2, quirks Q5–Q7, Q13, Q17,
//! Q18, Q22 and the validator's group tests of §4.2), over HTTP with Entra's request shapes,
//! checked by reading the groups and users back (and, for the set-based check, the database).
//!
//! Groups are a per-company switch, off by default: every test but the one about the switch
//! turns it on first. The small helpers at the bottom are shared with `group_mappings`.

use diesel::prelude::*;
use entrada::db::schema::{group_members, groups};
use serde_json::{Value, json};

use crate::helpers::{Backend, Scim, ScimResponse, TestApp, patch_op};
use crate::on_both_backends;
use crate::scim_quirks::assert_scim_error;

on_both_backends!(
    g1_the_test_connection_probe_for_a_random_group_name_is_200_and_empty,
    g2_a_display_name_filter_ignores_case_and_excluded_members_leave_no_members_key,
    g3_get_by_id_lists_the_members_unless_they_are_excluded,
    g4_entras_create_is_201_with_location_and_etag_and_a_name_in_another_case_is_409,
    g5_renames_by_path_and_path_less_and_path_less_external_id_are_applied,
    g5_renaming_onto_another_groups_name_in_another_case_is_409_and_keeps_the_name,
    g6_one_add_operation_with_null_refs_adds_several_members_once,
    g7_f_old_remove_with_a_value_list_removes_only_the_listed_member,
    g7_f_new_remove_by_value_filter_removes_only_that_member,
    remove_on_members_without_a_value_empties_the_group,
    q18_add_then_remove_of_the_same_member_leaves_it_out_and_remove_then_add_leaves_it_in,
    q18_replace_then_remove_of_the_same_member_in_one_request_leaves_it_out,
    an_unknown_member_id_is_400_naming_it_and_nothing_in_the_request_is_applied,
    another_companys_user_cannot_be_added_and_another_company_cannot_see_the_group,
    removing_a_member_id_that_is_not_there_is_a_204_no_op,
    g8_delete_is_204_then_404_and_the_members_remain_users_without_the_group,
    g9_id_and_members_filter_finds_the_group_for_a_member_only,
    a_users_read_only_groups_attribute_lists_the_group_and_cannot_be_patched,
    q22_a_disabled_user_keeps_their_memberships_and_has_them_after_re_enable,
    a_deleted_user_is_no_longer_listed_as_a_member,
    put_and_replace_on_members_both_replace_the_whole_member_list,
    group_patch_answers_204_with_an_empty_body,
    a_stale_if_match_is_412_and_changes_nothing_while_the_current_etag_succeeds,
    with_the_groups_switch_off_every_groups_route_is_403_saying_so,
    discovery_lists_the_group_schema_and_resource_type,
    seven_groups_page_by_start_index_and_count,
    the_validators_group_tests_pass_in_order,
    two_simultaneous_member_adds_both_stick_five_times_over,
    three_hundred_members_in_batches_then_five_more_are_exactly_305_rows,
);

const GROUP_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const MS_GROUP_URN: &str = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group";
const NOT_ENABLED: &str = "Group provisioning is not enabled for this company";

async fn g1_the_test_connection_probe_for_a_random_group_name_is_200_and_empty(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    scim.create_group("Field Engineers").await;
    let probe = scim.get("/Groups?excludedAttributes=members&filter=displayName+eq+%2251b0c7d2-93e4-4f1a-b6c8-0e2d7a9f3c15%22").await;
    assert_eq!(probe.status, 200, "{}", probe.body);
    assert_eq!(probe.header("content-type"), Some("application/scim+json; charset=utf-8"));
    assert_eq!(
        probe.body,
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0, "Resources": []})
    );
}

async fn g2_a_display_name_filter_ignores_case_and_excluded_members_leave_no_members_key(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    scim.create_group("Field Engineers EMEA").await;
    let ines = scim.create_user("ines@acme.example").await;
    add_members(&scim, &id, &[&ines]).await;

    for name in ["Field Engineers", "FIELD ENGINEERS", "field engineers"] {
        let found = scim.filter_groups(&format!("displayName eq \"{name}\""), true).await;
        assert_eq!(found.status, 200, "{}", found.body);
        assert_eq!(found.body["totalResults"], 1, "{name}: {}", found.body);
        let group = &found.body["Resources"][0];
        assert_eq!(group["id"], id.as_str());
        assert_eq!(group["displayName"], "Field Engineers", "stored as sent, whatever the filter's case");
        assert!(group.get("members").is_none(), "excludedAttributes=members leaves no members key: {group}");
    }
    // Without the exclusion the members are there.
    let full = scim.filter_groups("displayName eq \"field engineers\"", false).await;
    assert_eq!(member_values(&full.body["Resources"][0]), [ines.clone()]);
}

async fn g3_get_by_id_lists_the_members_unless_they_are_excluded(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let ines = scim.create_user("ines@acme.example").await;
    add_members(&scim, &id, &[&ines]).await;

    let full = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(full.status, 200, "{}", full.body);
    assert_eq!(full.body["schemas"], json!([GROUP_URN]));
    assert_eq!(full.body["displayName"], "Field Engineers");
    assert_eq!(full.body["externalId"], "ext-field-engineers");
    assert_eq!(full.body["members"], json!([{"value": ines, "$ref": format!("{}/Users/{ines}", scim.base), "type": "User"}]));
    assert_eq!(full.header("etag"), full.body["meta"]["version"].as_str());

    let lean = scim.get(&format!("/Groups/{id}?excludedAttributes=members")).await;
    assert_eq!(lean.status, 200, "{}", lean.body);
    assert!(lean.body.get("members").is_none(), "{}", lean.body);
    assert_eq!(lean.body["id"], id.as_str());
    assert_eq!(lean.body["displayName"], "Field Engineers");
    assert_eq!(lean.body["meta"]["resourceType"], "Group");
    assert_eq!(lean.body["meta"]["location"], format!("{}/Groups/{id}", scim.base));

    let unknown = scim.get("/Groups/no-such-group?excludedAttributes=members").await;
    assert_scim_error(&unknown, 404, None);
}

async fn g4_entras_create_is_201_with_location_and_etag_and_a_name_in_another_case_is_409(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let body = json!({
        "schemas": [GROUP_URN, MS_GROUP_URN],
        "externalId": "b7e19c40-5d2a-4f6e-8c11-0a9d3e7f2b65",
        "displayName": "Field Engineers",
        "meta": { "resourceType": "Group" }
    });
    let created = scim.post("/Groups", body).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.header("content-type"), Some("application/scim+json; charset=utf-8"));
    let id = created.body["id"].as_str().expect("an id").to_owned();
    assert!(!id.is_empty());
    assert_eq!(created.header("location"), Some(format!("{}/Groups/{id}", scim.base).as_str()));
    assert_eq!(created.header("etag"), Some("W/\"1\""));
    assert_eq!(created.body["meta"]["version"], "W/\"1\"");
    assert_eq!(created.body["meta"]["location"], format!("{}/Groups/{id}", scim.base));
    assert_eq!(created.body["displayName"], "Field Engineers");
    assert_eq!(created.body["externalId"], "b7e19c40-5d2a-4f6e-8c11-0a9d3e7f2b65");
    assert_eq!(created.body["schemas"], json!([GROUP_URN]), "the unknown Microsoft URN is ignored, not echoed");

    let duplicate = scim.post("/Groups", json!({"schemas": [GROUP_URN, MS_GROUP_URN], "externalId": "other", "displayName": "FIELD engineers"})).await;
    assert_scim_error(&duplicate, 409, Some("uniqueness"));
    let all = scim.get("/Groups?excludedAttributes=members").await;
    assert_eq!(all.body["totalResults"], 1, "the duplicate was not stored: {}", all.body);
}

async fn g5_renames_by_path_and_path_less_and_path_less_external_id_are_applied(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;

    patch_group(&scim, &id, json!([{"op": "Replace", "path": "displayName", "value": "Field Engineers EMEA"}])).await;
    assert_eq!(group(&scim, &id).await["displayName"], "Field Engineers EMEA", "F-OLD Replace with a path");

    patch_group(&scim, &id, json!([{"op": "replace", "value": {"displayName": "Field Engineers APAC"}}])).await;
    assert_eq!(group(&scim, &id).await["displayName"], "Field Engineers APAC", "F-NEW path-less replace");

    patch_group(&scim, &id, json!([{"op": "replace", "value": {"externalId": "4f1a-new-object-id"}}])).await;
    let read = group(&scim, &id).await;
    assert_eq!(read["externalId"], "4f1a-new-object-id", "path-less externalId");
    assert_eq!(read["displayName"], "Field Engineers APAC", "a path-less externalId leaves the name alone");

    patch_group(&scim, &id, json!([{"op": "Add", "path": "displayName", "value": "Field Engineers Americas"}])).await;
    assert_eq!(group(&scim, &id).await["displayName"], "Field Engineers Americas", "Q17: add on a set attribute replaces it");

    assert_eq!(scim.filter_groups("displayName eq \"Field Engineers\"", true).await.body["totalResults"], 0, "the old name is free");
    let found = scim.filter_groups("displayName eq \"field engineers americas\"", true).await;
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());
}

async fn g5_renaming_onto_another_groups_name_in_another_case_is_409_and_keeps_the_name(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    scim.create_group("Field Engineers").await;
    let id = scim.create_group("Sales").await;
    let refused = scim.patch(&format!("/Groups/{id}"), patch_op(json!([{"op": "Replace", "path": "displayName", "value": "FIELD ENGINEERS"}]))).await;
    assert_scim_error(&refused, 409, Some("uniqueness"));
    assert_eq!(group(&scim, &id).await["displayName"], "Sales");
}

async fn g6_one_add_operation_with_null_refs_adds_several_members_once(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c] = people(&scim, ["ana", "bo", "cy"]).await;

    patch_group(&scim, &id, json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}, {"$ref": null, "value": b}]}])).await;
    assert_eq!(members_of(&scim, &id).await, sorted([&a, &b]));

    // Adding someone already there again (with a newcomer) adds only the newcomer.
    patch_group(&scim, &id, json!([{"op": "add", "path": "members", "value": [{"$ref": null, "value": b}, {"$ref": null, "value": c}]}])).await;
    let listed = member_values(&group(&scim, &id).await);
    assert_eq!(listed.len(), 3, "no duplicate member: {listed:?}");
    assert_eq!(members_of(&scim, &id).await, sorted([&a, &b, &c]));
}

async fn g7_f_old_remove_with_a_value_list_removes_only_the_listed_member(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c] = people(&scim, ["ana", "bo", "cy"]).await;
    add_members(&scim, &id, &[&a, &b, &c]).await;

    patch_group(&scim, &id, json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": b}]}])).await;
    assert_eq!(members_of(&scim, &id).await, sorted([&a, &c]), "Q5: only the listed member goes, never all of them");
}

async fn g7_f_new_remove_by_value_filter_removes_only_that_member(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c] = people(&scim, ["ana", "bo", "cy"]).await;
    add_members(&scim, &id, &[&a, &b, &c]).await;

    patch_group(&scim, &id, json!([{"op": "remove", "path": format!("members[value eq \"{a}\"]")}])).await;
    assert_eq!(members_of(&scim, &id).await, sorted([&b, &c]), "Q7");
}

async fn remove_on_members_without_a_value_empties_the_group(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c] = people(&scim, ["ana", "bo", "cy"]).await;
    add_members(&scim, &id, &[&a, &b, &c]).await;

    patch_group(&scim, &id, json!([{"op": "remove", "path": "members"}])).await;
    assert_eq!(members_of(&scim, &id).await, Vec::<String>::new(), "RFC 7644: remove without value clears the attribute");
    for user in [&a, &b, &c] {
        assert_eq!(scim.get(&format!("/Users/{user}")).await.status, 200, "people stay");
    }
}

async fn q18_add_then_remove_of_the_same_member_leaves_it_out_and_remove_then_add_leaves_it_in(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c] = people(&scim, ["ana", "bo", "cy"]).await;
    add_members(&scim, &id, &[&c]).await;

    patch_group(
        &scim,
        &id,
        json!([
            {"op": "add", "path": "members", "value": [{"value": a}]},
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")}
        ]),
    )
    .await;
    assert_eq!(members_of(&scim, &id).await, [c.clone()], "add then remove: absent");

    patch_group(
        &scim,
        &id,
        json!([
            {"op": "Remove", "path": "members", "value": [{"value": c}]},
            {"op": "Add", "path": "members", "value": [{"value": c}]}
        ]),
    )
    .await;
    assert_eq!(members_of(&scim, &id).await, [c.clone()], "remove then add: present");

    patch_group(
        &scim,
        &id,
        json!([
            {"op": "remove", "path": format!("members[value eq \"{b}\"]")},
            {"op": "add", "path": "members", "value": [{"value": b}]},
            {"op": "Remove", "path": "members", "value": [{"value": c}]}
        ]),
    )
    .await;
    assert_eq!(members_of(&scim, &id).await, [b.clone()], "in order: b removed-then-added stays, c goes");
}

async fn q18_replace_then_remove_of_the_same_member_in_one_request_leaves_it_out(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;

    patch_group(
        &scim,
        &id,
        json!([
            {"op": "replace", "path": "members", "value": [{"value": a}, {"value": b}]},
            {"op": "remove", "path": format!("members[value eq \"{a}\"]")}
        ]),
    )
    .await;
    assert_eq!(members_of(&scim, &id).await, [b.clone()], "operations apply in order: the removal after the replace wins");
}

async fn an_unknown_member_id_is_400_naming_it_and_nothing_in_the_request_is_applied(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&b]).await;
    let before = group(&scim, &id).await;

    let refused = scim
        .patch(
            &format!("/Groups/{id}"),
            patch_op(json!([
                {"op": "Replace", "path": "displayName", "value": "Renamed"},
                {"op": "Remove", "path": "members", "value": [{"value": b}]},
                {"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}, {"$ref": null, "value": "usr_no_such_person"}]}
            ])),
        )
        .await;
    assert_scim_error(&refused, 400, Some("invalidValue"));
    assert!(refused.body["detail"].as_str().unwrap().contains("usr_no_such_person"), "the error names the id: {}", refused.body);
    assert!(!refused.body["detail"].as_str().unwrap().contains(&a), "only the unknown id is named: {}", refused.body);

    let after = group(&scim, &id).await;
    assert_eq!(after, before, "atomic: no rename, no removal, no addition, same version");
    assert_eq!(members_of(&scim, &id).await, [b.clone()]);
}

async fn another_companys_user_cannot_be_added_and_another_company_cannot_see_the_group(backend: Backend) {
    let Some((app, scim)) = acme_groups(backend).await else { return };
    let globex = app.scim_company("globex");
    app.set_groups_enabled("globex", true);
    let stranger = globex.create_user("gus@globex.example").await;
    let id = scim.create_group("Field Engineers").await;

    let refused = scim.patch(&format!("/Groups/{id}"), patch_op(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": stranger}]}]))).await;
    assert_scim_error(&refused, 400, Some("invalidValue"));
    assert!(refused.body["detail"].as_str().unwrap().contains(&stranger), "{}", refused.body);
    assert_eq!(members_of(&scim, &id).await, Vec::<String>::new());
    assert!(globex.get(&format!("/Users/{stranger}")).await.body.get("groups").is_none());

    assert_scim_error(&globex.get(&format!("/Groups/{id}")).await, 404, None);
    assert_eq!(globex.filter_groups("displayName eq \"Field Engineers\"", true).await.body["totalResults"], 0);
    assert_scim_error(&globex.delete(&format!("/Groups/{id}")).await, 404, None);
    assert_eq!(group(&scim, &id).await["displayName"], "Field Engineers");
}

async fn removing_a_member_id_that_is_not_there_is_a_204_no_op(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&a]).await;

    patch_group(&scim, &id, json!([{"op": "Remove", "path": "members", "value": [{"value": "usr_never_existed"}]}])).await;
    patch_group(&scim, &id, json!([{"op": "remove", "path": "members[value eq \"usr_never_existed\"]"}])).await;
    patch_group(&scim, &id, json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}])).await;
    assert_eq!(members_of(&scim, &id).await, [a.clone()]);
}

async fn g8_delete_is_204_then_404_and_the_members_remain_users_without_the_group(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&a, &b]).await;

    let deleted = scim.delete(&format!("/Groups/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(deleted.body, Value::Null);
    assert_scim_error(&scim.get(&format!("/Groups/{id}")).await, 404, None);
    assert_scim_error(&scim.delete(&format!("/Groups/{id}")).await, 404, None);
    assert_eq!(scim.filter_groups("displayName eq \"Field Engineers\"", true).await.body["totalResults"], 0);
    for user in [&a, &b] {
        let read = scim.get(&format!("/Users/{user}")).await;
        assert_eq!(read.status, 200, "the members still exist as users");
        assert_eq!(read.body["active"], true);
        assert!(read.body.get("groups").is_none(), "no stale group reference: {}", read.body);
    }
    // The name is free again.
    let again = scim.create_group("Field Engineers").await;
    assert_ne!(again, id);
}

async fn g9_id_and_members_filter_finds_the_group_for_a_member_only(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let other = scim.create_group("Sales").await;
    let [member, outsider] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&member]).await;
    add_members(&scim, &other, &[&outsider]).await;

    let check = |user: &str| {
        let encoded = serde_urlencoded::to_string([("filter", format!("id eq \"{id}\" and members eq \"{user}\""))]).unwrap();
        let scim = &scim;
        async move { scim.get(&format!("/Groups?{encoded}&attributes=id")).await }
    };
    let hit = check(&member).await;
    assert_eq!(hit.status, 200, "{}", hit.body);
    assert_eq!(hit.body["totalResults"], 1);
    assert_eq!(hit.body["Resources"][0]["id"], id.as_str());
    let miss = check(&outsider).await;
    assert_eq!(miss.status, 200, "{}", miss.body);
    assert_eq!(miss.body["totalResults"], 0);
    assert_eq!(miss.body["Resources"], json!([]));
}

async fn a_users_read_only_groups_attribute_lists_the_group_and_cannot_be_patched(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let ines = scim.create_user("ines@acme.example").await;
    assert!(scim.get(&format!("/Users/{ines}")).await.body.get("groups").is_none(), "no group yet");
    add_members(&scim, &id, &[&ines]).await;

    let user = scim.get(&format!("/Users/{ines}")).await.body;
    let groups = user["groups"].as_array().unwrap_or_else(|| panic!("no groups: {user}"));
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["value"], id.as_str());
    assert_eq!(groups[0]["display"], "Field Engineers");
    assert_eq!(groups[0]["$ref"], format!("{}/Groups/{id}", scim.base));

    patch_group(&scim, &id, json!([{"op": "Replace", "path": "displayName", "value": "Field Engineers EMEA"}])).await;
    assert_eq!(scim.get(&format!("/Users/{ines}")).await.body["groups"][0]["display"], "Field Engineers EMEA", "the display follows a rename");

    let other = scim.create_group("Sales").await;
    for op in [
        json!({"op": "add", "path": "groups", "value": [{"value": other}]}),
        json!({"op": "Replace", "path": "groups", "value": []}),
        json!({"op": "remove", "path": "groups"}),
    ] {
        let refused = scim.patch(&format!("/Users/{ines}"), patch_op(json!([op]))).await;
        assert_scim_error(&refused, 400, Some("mutability"));
    }
    let user = scim.get(&format!("/Users/{ines}")).await.body;
    assert_eq!(user["groups"].as_array().map(Vec::len), Some(1), "{user}");
    assert_eq!(members_of(&scim, &other).await, Vec::<String>::new());
}

async fn q22_a_disabled_user_keeps_their_memberships_and_has_them_after_re_enable(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&a, &b]).await;

    let disable = scim.patch(&format!("/Users/{a}"), patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]))).await;
    assert_eq!(disable.status, 200, "{}", disable.body);
    assert_eq!(disable.body["active"], false);
    assert_eq!(members_of(&scim, &id).await, sorted([&a, &b]), "disabled people stay members");
    let user = scim.get(&format!("/Users/{a}")).await.body;
    assert_eq!(user["active"], false);
    assert_eq!(user["groups"][0]["value"], id.as_str());
    let encoded = serde_urlencoded::to_string([("filter", format!("id eq \"{id}\" and members eq \"{a}\""))]).unwrap();
    assert_eq!(scim.get(&format!("/Groups?{encoded}")).await.body["totalResults"], 1);

    // Entra reactivates without re-adding memberships: they must still be there.
    let enable = scim.patch(&format!("/Users/{a}"), patch_op(json!([{"op": "replace", "path": "active", "value": true}]))).await;
    assert_eq!(enable.status, 200, "{}", enable.body);
    assert_eq!(members_of(&scim, &id).await, sorted([&a, &b]));
    assert_eq!(scim.get(&format!("/Users/{a}")).await.body["groups"][0]["value"], id.as_str());
}

async fn a_deleted_user_is_no_longer_listed_as_a_member(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b] = people(&scim, ["ana", "bo"]).await;
    add_members(&scim, &id, &[&a, &b]).await;

    assert_eq!(scim.delete(&format!("/Users/{a}")).await.status, 204);
    assert_eq!(scim.get(&format!("/Users/{a}")).await.status, 404);
    // RFC 7644 §3.6: a deleted resource answers 404 everywhere and is omitted from results, so
    // the group must not keep pointing at it.
    assert_eq!(members_of(&scim, &id).await, [b.clone()], "the group still lists a deleted user");
    let encoded = serde_urlencoded::to_string([("filter", format!("members eq \"{a}\""))]).unwrap();
    assert_eq!(scim.get(&format!("/Groups?{encoded}")).await.body["totalResults"], 0);
}

async fn put_and_replace_on_members_both_replace_the_whole_member_list(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a, b, c, d] = people(&scim, ["ana", "bo", "cy", "di"]).await;
    add_members(&scim, &id, &[&a, &b]).await;

    let put = scim
        .put(
            &format!("/Groups/{id}"),
            json!({"schemas": [GROUP_URN], "displayName": "Field Engineers", "externalId": "fe-2", "members": [{"value": b}, {"value": c}]}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.body);
    assert_eq!(sorted_values(&put.body), sorted([&b, &c]), "PUT answers with the group");
    assert_eq!(put.body["externalId"], "fe-2");
    assert_eq!(members_of(&scim, &id).await, sorted([&b, &c]));
    let read = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(put.header("etag"), read.header("etag"), "PUT answers the version it stored");
    assert_eq!(put.body, read.body, "PUT answers the group as a GET then reads it");

    patch_group(&scim, &id, json!([{"op": "replace", "path": "members", "value": [{"value": d}]}])).await;
    assert_eq!(members_of(&scim, &id).await, [d.clone()], "replace on members swaps the whole list");
}

async fn group_patch_answers_204_with_an_empty_body(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a] = people(&scim, ["ana"]).await;
    for ops in [
        json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}]}]),
        json!([{"op": "Replace", "path": "displayName", "value": "Field Engineers EMEA"}]),
        json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}]),
    ] {
        let answer = scim.patch(&format!("/Groups/{id}"), patch_op(ops.clone())).await;
        assert_eq!(answer.status, 204, "{ops}: {}", answer.body);
        assert_eq!(answer.body, Value::Null, "{ops}");
    }
}

async fn a_stale_if_match_is_412_and_changes_nothing_while_the_current_etag_succeeds(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let [a] = people(&scim, ["ana"]).await;
    let stale = scim.get(&format!("/Groups/{id}")).await.header("etag").unwrap().to_owned();
    patch_group(&scim, &id, json!([{"op": "Replace", "path": "displayName", "value": "Field Engineers EMEA"}])).await;

    let body = patch_op(json!([{"op": "Add", "path": "members", "value": [{"value": a}]}])).to_string();
    let refused = scim.send_with("PATCH", &format!("/Groups/{id}"), Some(body.clone()), &[("If-Match", &stale)]).await;
    assert_scim_error(&refused, 412, None);
    assert_eq!(members_of(&scim, &id).await, Vec::<String>::new());

    let current = scim.get(&format!("/Groups/{id}")).await.header("etag").unwrap().to_owned();
    assert_ne!(current, stale);
    let accepted = scim.send_with("PATCH", &format!("/Groups/{id}"), Some(body), &[("If-Match", &current)]).await;
    assert_eq!(accepted.status, 204, "{}", accepted.body);
    assert_eq!(members_of(&scim, &id).await, [a.clone()]);
    assert_ne!(scim.get(&format!("/Groups/{id}")).await.header("etag").unwrap(), current, "a membership change is a new version");
}

async fn with_the_groups_switch_off_every_groups_route_is_403_saying_so(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else { return };
    let scim = app.scim_company("acme");
    let body = json!({"schemas": [GROUP_URN], "displayName": "Field Engineers"});
    let patch = patch_op(json!([{"op": "Replace", "path": "displayName", "value": "x"}]));

    let check = |response: ScimResponse, what: &str| {
        assert_scim_error(&response, 403, None);
        assert!(response.body["detail"].as_str().unwrap().contains(NOT_ENABLED), "{what}: {}", response.body);
    };
    let all_routes = |id: String| {
        let (scim, body, patch) = (&scim, body.clone(), patch.clone());
        async move {
            vec![
                ("GET /Groups", scim.get("/Groups").await),
                ("G1 probe", scim.filter_groups("displayName eq \"51b0c7d2-93e4-4f1a-b6c8-0e2d7a9f3c15\"", true).await),
                ("POST /Groups", scim.post("/Groups", body.clone()).await),
                ("POST /Groups/.search", scim.post("/Groups/.search", json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]})).await),
                ("GET /Groups/{id}", scim.get(&format!("/Groups/{id}?excludedAttributes=members")).await),
                ("PUT /Groups/{id}", scim.put(&format!("/Groups/{id}"), body).await),
                ("PATCH /Groups/{id}", scim.patch(&format!("/Groups/{id}"), patch).await),
                ("DELETE /Groups/{id}", scim.delete(&format!("/Groups/{id}")).await),
                // The switch is checked before the request's own faults.
                ("POST /Groups, broken body", scim.send_with("POST", "/Groups", Some("{\"displayName\": ".into()), &[]).await),
                ("PATCH /Groups/{id}, broken body", scim.send_with("PATCH", &format!("/Groups/{id}"), Some("not json".into()), &[]).await),
                ("PUT /Groups/{id}, no displayName", scim.send_with("PUT", &format!("/Groups/{id}"), Some("{}".into()), &[]).await),
                ("GET /Groups, bad count", scim.get("/Groups?count=x").await),
                ("POST /Groups/.search, broken body", scim.send_with("POST", "/Groups/.search", Some("[".into()), &[]).await),
            ]
        }
    };
    let failures = || {
        use entrada::db::schema::activity;
        activity::table.filter(activity::outcome.eq("failure")).count().get_result::<i64>(&mut app.conn()).unwrap()
    };
    for (what, response) in all_routes("grp_unknown".into()).await {
        check(response, what);
    }

    // A group created while the switch was on is untouchable once it is off, and intact after.
    app.set_groups_enabled("acme", true);
    let id = scim.create_group("Sales").await;
    let member = scim.create_user("ines@acme.example").await;
    add_members(&scim, &id, &[&member]).await;
    app.set_groups_enabled("acme", false);
    for (what, response) in all_routes(id.clone()).await {
        check(response, what);
    }
    assert_eq!(failures(), 0, "a company setting is not a provisioning event: nothing recorded");
    assert_eq!(scim.get("/Users").await.status, 200, "users are not affected");
    // The membership is kept but not shown while the company's /Groups is closed.
    let user = scim.get(&format!("/Users/{member}")).await;
    assert_eq!((user.status, user.body.get("groups")), (200, None), "{}", user.body);
    app.set_groups_enabled("acme", true);
    assert_eq!(group(&scim, &id).await["displayName"], "Sales");
    assert_eq!(scim.get("/Groups").await.body["totalResults"], 1);
    assert_eq!(scim.get(&format!("/Users/{member}")).await.body["groups"][0]["value"], id.as_str(), "shown again");
}

async fn discovery_lists_the_group_schema_and_resource_type(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let schemas = scim.get("/Schemas").await;
    assert_eq!(schemas.status, 200);
    let ids: Vec<&str> = schemas.body["Resources"].as_array().unwrap().iter().filter_map(|s| s["id"].as_str()).collect();
    assert!(ids.contains(&GROUP_URN), "{ids:?}");

    let schema = scim.get(&format!("/Schemas/{GROUP_URN}")).await;
    assert_eq!(schema.status, 200, "{}", schema.body);
    assert_eq!(schema.body["id"], GROUP_URN);
    assert_eq!(schema.body["name"], "Group");
    let attribute = |name: &str| {
        schema.body["attributes"].as_array().unwrap().iter().find(|a| a["name"] == name).cloned().unwrap_or_else(|| panic!("no {name} in {}", schema.body))
    };
    let display_name = attribute("displayName");
    assert_eq!((display_name["required"].clone(), display_name["uniqueness"].clone()), (json!(true), json!("server")));
    let members = attribute("members");
    assert_eq!(members["multiValued"], true);
    assert!(members["subAttributes"].as_array().unwrap().iter().any(|s| s["name"] == "value"));

    let types = scim.get("/ResourceTypes").await;
    assert!(types.body["Resources"].as_array().unwrap().iter().any(|t| t["id"] == "Group"), "{}", types.body);
    let group_type = scim.get("/ResourceTypes/Group").await;
    assert_eq!(group_type.status, 200, "{}", group_type.body);
    assert_eq!(group_type.body["endpoint"], "/Groups");
    assert_eq!(group_type.body["schema"], GROUP_URN);
    assert_eq!(group_type.body["name"], "Group");
}

async fn seven_groups_page_by_start_index_and_count(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let mut ids = Vec::new();
    for n in 1..=7 {
        ids.push(scim.create_group(&format!("Group {n}")).await);
    }
    let page = |start: i64, count: i64| {
        let scim = &scim;
        async move { scim.get(&format!("/Groups?excludedAttributes=members&startIndex={start}&count={count}")).await }
    };
    let ids_of = |r: &ScimResponse| -> Vec<String> { r.body["Resources"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_owned()).collect() };

    for (start, count, expected) in [(1, 3, &ids[0..3]), (4, 3, &ids[3..6]), (7, 3, &ids[6..7]), (8, 3, &ids[7..7]), (2, 10, &ids[1..7])] {
        let answer = page(start, count).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["totalResults"], 7, "start {start} count {count}");
        assert_eq!(answer.body["startIndex"], start);
        assert_eq!(answer.body["itemsPerPage"], expected.len());
        assert_eq!(ids_of(&answer), expected, "start {start} count {count}");
        assert!(answer.body["Resources"].as_array().unwrap().iter().all(|g| g.get("members").is_none()));
    }
    let none = page(1, 0).await;
    assert_eq!((none.body["totalResults"].clone(), none.body["Resources"].clone()), (json!(7), json!([])));
}

/// The SCIM Validator's group tests (§4.2), mandatory then preview, in the order it runs them.
async fn the_validators_group_tests_pass_in_order(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let [member] = people(&scim, ["validator.member"]).await;

    // Create a new Group / Create a duplicate Group
    let created = scim.post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "LYKQGH", "externalId": "0d3c11a2"})).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_scim_error(&scim.post("/Groups", json!({"schemas": [GROUP_URN], "displayName": "LYKQGH", "externalId": "0d3c11a2"})).await, 409, Some("uniqueness"));

    // Get group by id excluding members
    let by_id = scim.get(&format!("/Groups/{id}?excludedAttributes=members")).await;
    assert_eq!((by_id.status, by_id.body["displayName"].clone()), (200, json!("LYKQGH")));
    assert!(by_id.body.get("members").is_none());

    // Filter for existing group excluding members / existing / non-existing / different case
    let excluded = scim.filter_groups("displayName eq \"LYKQGH\"", true).await;
    assert_eq!((excluded.body["totalResults"].clone(), excluded.body["Resources"][0]["id"].clone()), (json!(1), json!(id)));
    assert!(excluded.body["Resources"][0].get("members").is_none());
    assert_eq!(scim.filter_groups("displayName eq \"LYKQGH\"", false).await.body["totalResults"], 1);
    let missing = scim.filter_groups("displayName eq \"NOPE-QQQ\"", false).await;
    assert_eq!((missing.status, missing.body["totalResults"].clone()), (200, json!(0)));
    assert_eq!(scim.filter_groups("displayName eq \"lykqgh\"", false).await.body["Resources"][0]["id"], id.as_str());

    // Patch Group - Replace Attributes (path-less externalId)
    patch_group(&scim, &id, json!([{"op": "replace", "value": {"externalId": "9f8e7d6c"}}])).await;
    assert_eq!(group(&scim, &id).await["externalId"], "9f8e7d6c");

    // Update Group displayName (path-less)
    patch_group(&scim, &id, json!([{"op": "replace", "value": {"displayName": "QWERTY"}}])).await;
    assert_eq!(group(&scim, &id).await["displayName"], "QWERTY");

    // Patch Group - Add Member (sent as replace on members)
    patch_group(&scim, &id, json!([{"op": "replace", "path": "members", "value": [{"value": member}]}])).await;
    assert_eq!(members_of(&scim, &id).await, [member.clone()]);

    // Patch Group - Remove Member (members[value eq …])
    patch_group(&scim, &id, json!([{"op": "remove", "path": format!("members[value eq \"{member}\"]")}])).await;
    assert_eq!(members_of(&scim, &id).await, Vec::<String>::new());

    // Preview: Patch Group - Multiple Ops on same attribute (add + remove the same member)
    patch_group(
        &scim,
        &id,
        json!([
            {"op": "add", "path": "members", "value": [{"value": member}]},
            {"op": "remove", "path": format!("members[value eq \"{member}\"]")}
        ]),
    )
    .await;
    assert_eq!(members_of(&scim, &id).await, Vec::<String>::new());

    // Delete a Group
    assert_eq!(scim.delete(&format!("/Groups/{id}")).await.status, 204);
    assert_eq!(scim.get(&format!("/Groups/{id}")).await.status, 404);

    // Preview: Delete a non-existent Group
    assert_scim_error(&scim.delete("/Groups/00000000-0000-0000-0000-000000000000").await, 404, None);

    // Preview: Delete the same Group twice
    let twice = scim.create_group("DELTWICE").await;
    assert_eq!(scim.delete(&format!("/Groups/{twice}")).await.status, 204);
    assert_scim_error(&scim.delete(&format!("/Groups/{twice}")).await, 404, None);
}

async fn two_simultaneous_member_adds_both_stick_five_times_over(backend: Backend) {
    let Some((_app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Field Engineers").await;
    let mut users = Vec::new();
    for n in 0..10 {
        users.push(scim.create_user(&format!("person{n}@acme.example")).await);
    }
    let path = format!("/Groups/{id}");
    for round in 0..5 {
        let (first, second) = (&users[2 * round], &users[2 * round + 1]);
        let add = |user: &String| patch_op(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": user}]}]));
        let (one, two) = futures_util::future::join(scim.patch(&path, add(first)), scim.patch(&path, add(second))).await;
        assert_eq!((one.status, two.status), (204, 204), "round {round}: {} / {}", one.body, two.body);
        let members = members_of(&scim, &id).await;
        assert!(members.contains(first) && members.contains(second), "round {round}: both members are there: {members:?}");
        assert_eq!(members.len(), 2 * round + 2, "round {round}: nothing lost, nothing doubled");
    }
    assert_eq!(members_of(&scim, &id).await, sorted(users.iter()));
}

async fn three_hundred_members_in_batches_then_five_more_are_exactly_305_rows(backend: Backend) {
    let Some((app, scim)) = acme_groups(backend).await else { return };
    let id = scim.create_group("Everyone").await;
    let mut users = Vec::new();
    for n in 0..305 {
        users.push(scim.create_user(&format!("p{n:03}@acme.example")).await);
    }
    let add = |batch: &[String]| {
        let values: Vec<Value> = batch.iter().map(|u| json!({"$ref": null, "value": u})).collect();
        json!([{"op": "Add", "path": "members", "value": values}])
    };
    for batch in users[..300].chunks(100) {
        patch_group(&scim, &id, add(batch)).await;
    }
    assert_eq!(member_values(&group(&scim, &id).await).len(), 300);

    // Five newcomers, sent together with five people who are already members.
    let mut last: Vec<String> = users[300..].to_vec();
    last.extend_from_slice(&users[..5]);
    patch_group(&scim, &id, add(&last)).await;

    let listed = member_values(&group(&scim, &id).await);
    assert_eq!(listed.len(), 305, "no duplicates in the answer");
    let mut unique = listed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique, sorted(users.iter()));

    let mut conn = app.conn();
    let group_id: i64 = groups::table.filter(groups::scim_id.eq(&id)).select(groups::id).first(&mut conn).unwrap();
    let rows: i64 = group_members::table.filter(group_members::group_id.eq(group_id)).count().get_result(&mut conn).unwrap();
    assert_eq!(rows, 305, "membership rows in the database");
    let excluded = scim.filter_groups("displayName eq \"Everyone\"", true).await;
    assert!(excluded.body["Resources"][0].get("members").is_none());
}

// ----- helpers (also used by group_mappings) -----

/// A server with company `acme` (Entra module on) whose group switch is on.
pub(crate) async fn acme_groups(backend: Backend) -> Option<(TestApp, Scim)> {
    let app = TestApp::spawn(backend).await?;
    let scim = app.scim_company("acme");
    app.set_groups_enabled("acme", true);
    Some((app, scim))
}

/// Creates `<name>@acme.example` for each name; their SCIM ids.
pub(crate) async fn people<const N: usize>(scim: &Scim, names: [&str; N]) -> [String; N] {
    let mut ids = Vec::new();
    for name in names {
        ids.push(scim.create_user(&format!("{name}@{}.example", scim.shortcode)).await);
    }
    ids.try_into().unwrap()
}

/// GET /Groups/{id} (members included), which must succeed.
pub(crate) async fn group(scim: &Scim, id: &str) -> Value {
    let response = scim.get(&format!("/Groups/{id}")).await;
    assert_eq!(response.status, 200, "GET /Groups/{id}: {}", response.body);
    response.body
}

/// PATCH /Groups/{id}, which must answer 204 with no body.
pub(crate) async fn patch_group(scim: &Scim, id: &str, operations: Value) {
    let response = scim.patch(&format!("/Groups/{id}"), patch_op(operations.clone())).await;
    assert_eq!(response.status, 204, "PATCH /Groups/{id} {operations}: {}", response.body);
    assert_eq!(response.body, Value::Null);
}

/// Adds these users with Entra's G6 shape.
pub(crate) async fn add_members(scim: &Scim, id: &str, users: &[&String]) {
    let values: Vec<Value> = users.iter().map(|u| json!({"$ref": null, "value": u})).collect();
    patch_group(scim, id, json!([{"op": "Add", "path": "members", "value": values}])).await;
}

/// Removes one user with Entra's F-OLD G7 shape.
pub(crate) async fn remove_member(scim: &Scim, id: &str, user: &str) {
    patch_group(scim, id, json!([{"op": "Remove", "path": "members", "value": [{"value": user}]}])).await;
}

/// The member ids of a group resource, as listed (absent or empty `members` = none).
pub(crate) fn member_values(group: &Value) -> Vec<String> {
    group.get("members").and_then(Value::as_array).map(|m| m.iter().map(|v| v["value"].as_str().unwrap().to_owned()).collect()).unwrap_or_default()
}

fn sorted_values(group: &Value) -> Vec<String> {
    let mut ids = member_values(group);
    ids.sort();
    ids
}

/// The group's member ids, sorted.
pub(crate) async fn members_of(scim: &Scim, id: &str) -> Vec<String> {
    sorted_values(&group(scim, id).await)
}

pub(crate) fn sorted<'a>(ids: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut out: Vec<String> = ids.into_iter().cloned().collect();
    out.sort();
    out
}
