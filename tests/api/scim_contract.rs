//! The SCIM 2.0 contract (RFC 7643/7644) as this server states it: authentication, every
//! error, lists, filters, meta and ETags, PUT, DELETE and restore, discovery — and the
//! Microsoft SCIM Validator's user tests replayed in order.

use diesel::prelude::*;
use serde_json::{Value, json};

use crate::helpers::{Backend, Scim, ScimResponse, TestApp, entra_user, patch_op};
use crate::on_both_backends;
use crate::scim_quirks::{
    CORE, ENTERPRISE, PATCH_OP, acme, assert_attributes_as_sent, assert_manager, assert_scim_error, ent, patch_ok, read, user_names,
};

on_both_backends!(
    missing_wrong_foreign_and_unknown_shortcode_credentials_all_get_the_same_401,
    a_company_without_the_entra_module_gets_403,
    a_revoked_token_without_a_successor_gets_403_saying_disconnected,
    after_rotation_the_old_token_gets_401_and_the_new_one_works,
    malformed_json_is_400_invalid_syntax,
    a_broken_write_with_bad_credentials_is_401_and_leaves_no_trace,
    a_body_over_256_kib_is_413,
    an_unknown_id_is_404_for_every_method,
    a_method_the_endpoint_does_not_offer_is_405,
    an_unknown_endpoint_is_404_with_a_scim_body,
    a_bad_filter_is_400_invalid_filter_naming_the_problem,
    a_bad_patch_is_refused_with_the_matching_scim_type_and_changes_nothing,
    a_stray_id_inside_a_pathless_value_is_ignored,
    a_post_without_user_name_is_400_invalid_value,
    a_post_without_any_email_is_400_invalid_value_asking_for_an_email,
    a_taken_external_id_is_409_uniqueness,
    a_user_name_rename_applies_and_the_old_name_no_longer_matches,
    uniqueness_conflicts_only_with_users_the_api_still_shows,
    paging_over_twelve_users_is_stable_and_never_overlaps,
    count_zero_returns_only_the_total,
    count_above_1000_is_capped_at_1000,
    sort_by_user_name_ascending_and_descending,
    attributes_and_excluded_attributes_project_the_resources_but_keep_id,
    every_comparison_operator_filters_single_valued_attributes,
    and_or_not_with_parentheses_combine_filters,
    multi_valued_extension_manager_and_active_filters_match,
    meta_has_absolute_location_rfc3339_dates_and_a_version_that_is_the_etag,
    if_match_with_a_stale_etag_is_412_and_with_the_current_one_succeeds,
    put_replaces_the_user_and_drops_attributes_it_does_not_send,
    delete_is_204_then_404_and_a_new_post_restores_the_same_person,
    service_provider_config_states_patch_filter_etag_and_no_bulk,
    resource_types_and_schemas_are_discoverable,
    validator_user_tests_replayed_in_order,
);

// ----- authentication -----

async fn missing_wrong_foreign_and_unknown_shortcode_credentials_all_get_the_same_401(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    let globex = app.scim_company("globex");
    let users = format!("{}/Users", scim.base);
    let nowhere = app.url("/scim/nowhere/v2/Users");
    let cases = [
        ("no Authorization header", users.clone(), None),
        ("wrong token", users.clone(), Some("Bearer acme-0000000-0000000-00000000".to_owned())),
        ("not a bearer token", users.clone(), Some(format!("Basic {}", scim.token))),
        ("another company's token", users.clone(), Some(format!("Bearer {}", globex.token))),
        ("unknown shortcode, valid token", nowhere.clone(), Some(format!("Bearer {}", scim.token))),
        ("unknown shortcode, wrong token", nowhere, Some("Bearer acme-0000000-0000000-00000000".to_owned())),
    ];
    let mut bodies = Vec::new();
    for (case, url, authorization) in cases {
        let response = call(&app, "GET", &url, authorization.as_deref()).await;
        assert_scim_error(&response, 401, None);
        assert!(response.header("www-authenticate").is_some_and(|h| h.starts_with("Bearer")), "{case}: {:?}", response.headers);
        bodies.push(response.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "one 401 body for every case (no tenant oracle): {bodies:?}");
}

async fn a_company_without_the_entra_module_gets_403(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    use entrada::db::schema::companies;
    diesel::update(companies::table).set(companies::entra_enabled.eq(false)).execute(&mut app.conn()).unwrap();
    assert_scim_error(&scim.get("/Users").await, 403, None);
    assert_scim_error(&scim.post("/Users", entra_user("ines@acme.example")).await, 403, None);
}

async fn a_revoked_token_without_a_successor_gets_403_saying_disconnected(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    entrada::models::scim_token::ScimToken::revoke_all(&mut app.conn(), company_id(&app, &scim)).unwrap();
    let response = scim.get("/Users").await;
    assert_scim_error(&response, 403, None);
    assert!(response.body["detail"].as_str().unwrap().to_lowercase().contains("disconnected"), "{}", response.body);
}

async fn after_rotation_the_old_token_gets_401_and_the_new_one_works(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    let code = entrada::domain::Shortcode::parse(&scim.shortcode).unwrap();
    let new = entrada::models::scim_token::ScimToken::rotate(&mut app.conn(), company_id(&app, &scim), &code).unwrap();
    assert_scim_error(&scim.get("/Users").await, 401, None);
    let bearer = format!("Bearer {}", new.expose());
    let with_new = scim.send_with("GET", "/Users", None, &[("Authorization", &bearer)]).await;
    assert_eq!(with_new.status, 200, "{}", with_new.body);
    assert_eq!(with_new.body["totalResults"], 0);
}

// ----- errors -----

async fn malformed_json_is_400_invalid_syntax(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let user = format!("/Users/{id}");
    for (method, path, body) in [
        ("POST", "/Users", "{\"userName\": "),
        ("POST", "/Users", "[1, 2"),
        ("POST", "/Users", ""),
        ("PATCH", user.as_str(), "not json"),
        ("PUT", user.as_str(), "{\"userName\": \"ines@acme.example\",}"),
    ] {
        let response = scim.send_with(method, path, Some(body.to_owned()), &[]).await;
        assert_scim_error(&response, 400, Some("invalidSyntax"));
    }
    assert_eq!(read(&scim, &id).await["meta"]["version"], "W/\"1\"");
}

/// Write bodies are read before the token is checked (the check runs inside the write's own
/// transaction): a stranger's broken request must still be a plain 401, recorded nowhere,
/// while the same request with the right token is a 400 kept in the company's activity.
async fn a_broken_write_with_bad_credentials_is_401_and_leaves_no_trace(backend: Backend) {
    use entrada::db::schema::activity;
    let Some((app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let user = format!("/Users/{id}");
    app.set_groups_enabled(&scim.shortcode, true);
    let group = format!("/Groups/{}", scim.create_group("Sales").await);
    let failures = |app: &TestApp| {
        activity::table.filter(activity::outcome.eq("failure")).count().get_result::<i64>(&mut app.conn()).unwrap()
    };
    let broken = [
        ("POST", "/Users", "{\"userName\": "),
        ("POST", "/Users", "{\"userName\": \"nomail\"}"),
        ("PATCH", user.as_str(), "not json"),
        ("PUT", user.as_str(), "{\"active\": true}"),
        ("POST", "/Groups", "{\"displayName\": "),
        ("PATCH", group.as_str(), "not json"),
        ("PUT", group.as_str(), "{\"members\": []}"),
    ];
    // Searches are reads: refused, never recorded.
    let searches = [("POST", "/Users/.search", "not json"), ("POST", "/Groups/.search", "{\"count\": \"x\"}"), ("POST", "/.search", "[")];
    for (method, path, body) in broken.iter().chain(&searches) {
        for auth in ["Bearer acme-0000000-0000000-00000000", ""] {
            let response = scim.send_with(method, path, Some((*body).to_owned()), &[("Authorization", auth)]).await;
            assert_eq!(response.status, 401, "{method} {path}: {}", response.body);
            assert_scim_error(&response, 401, None);
        }
    }
    for path in [&user, &group] {
        let stranger = scim.send_with("DELETE", path, None, &[("Authorization", "Bearer wrong")]).await;
        assert_scim_error(&stranger, 401, None);
    }
    assert_eq!(failures(&app), 0, "nothing is recorded for strangers");
    for (method, path, body) in broken.iter().chain(&searches) {
        let response = scim.send_with(method, path, Some((*body).to_owned()), &[]).await;
        assert_eq!(response.status, 400, "{method} {path}: {}", response.body);
        assert_scim_error(&response, 400, None);
    }
    assert_eq!(failures(&app), 7, "each refused write of a genuine request is in the activity log");
    assert_eq!(read(&scim, &id).await["meta"]["version"], "W/\"1\"");
    assert_eq!(scim.get(&group).await.body["meta"]["version"], "W/\"1\"");
}

async fn a_body_over_256_kib_is_413(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let mut body = entra_user("big@acme.example");
    body["displayName"] = json!("x".repeat(257 * 1024));
    assert_scim_error(&scim.post("/Users", body).await, 413, None);
    assert_eq!(user_names(&scim, "userName pr").await.len(), 0);
}

async fn an_unknown_id_is_404_for_every_method(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    scim.create_user("ines@acme.example").await;
    let path = "/Users/1b6e7f2a-0000-4000-8000-000000000000";
    assert_scim_error(&scim.get(path).await, 404, None);
    assert_scim_error(&scim.put(path, entra_user("ines@acme.example")).await, 404, None);
    assert_scim_error(&scim.patch(path, patch_op(json!([{"op": "replace", "path": "title", "value": "x"}]))).await, 404, None);
    assert_scim_error(&scim.delete(path).await, 404, None);
}

async fn a_method_the_endpoint_does_not_offer_is_405(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let user = format!("/Users/{id}");
    let body = Some(entra_user("ines@acme.example").to_string());
    for (method, path) in [
        ("PUT", "/Users"),
        ("PATCH", "/Users"),
        ("DELETE", "/Users"),
        ("POST", user.as_str()),
        ("POST", "/ServiceProviderConfig"),
        ("DELETE", "/Schemas"),
    ] {
        let response = scim.send_with(method, path, body.clone(), &[]).await;
        assert_scim_error(&response, 405, None);
    }
    assert_eq!(read(&scim, &id).await["meta"]["version"], "W/\"1\"");
    // RFC 9110 §15.5.6: a 405 MUST carry Allow with the methods the resource supports.
    for (method, path, allowed) in [("PUT", "/Users", &["GET", "POST"][..]), ("POST", user.as_str(), &["DELETE", "GET", "PATCH", "PUT"])] {
        let response = scim.send_with(method, path, body.clone(), &[]).await;
        let allow = response.header("allow").unwrap_or_else(|| panic!("no Allow on the 405 for {method} {path}: {:?}", response.headers));
        let mut listed: Vec<String> = allow.split(',').map(|m| m.trim().to_uppercase()).collect();
        listed.sort();
        assert_eq!(listed, allowed, "{method} {path}");
    }
}

async fn an_unknown_endpoint_is_404_with_a_scim_body(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    for path in ["/Nope", "/Bulk", "/Me", "/Users/x/extra", "/ResourceTypes/Printer"] {
        assert_scim_error(&scim.get(path).await, 404, None);
    }
}

async fn a_bad_filter_is_400_invalid_filter_naming_the_problem(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    scim.create_user("ines@acme.example").await;
    for (filter, named) in [
        ("userName eq", "value"),
        ("userName foo \"x\"", "foo"),
        ("(userName eq \"x\"", ")"),
        ("userName eq \"x\" and", "and"),
        ("emails[type eq \"work\"", "]"),
        ("userName eq \"x\")", ")"),
        ("noSuchAttribute eq \"x\"", "noSuchAttribute"),
        ("name.noSuchPart eq \"x\"", "noSuchPart"),
        ("meta.lastModified gt \"yesterday\"", "RFC 3339"),
        ("active eq \"maybe\"", "boolean"),
    ] {
        let response = scim.filter_users(filter).await;
        assert_scim_error(&response, 400, Some("invalidFilter"));
        let detail = response.body["detail"].as_str().unwrap();
        assert!(detail.contains(named), "{filter}: the detail should name {named:?}: {detail}");
    }
}

async fn a_bad_patch_is_refused_with_the_matching_scim_type_and_changes_nothing(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let before = read(&scim, &id).await;
    let response = scim.patch(&format!("/Users/{id}"), json!({"schemas": [PATCH_OP]})).await;
    assert_scim_error(&response, 400, Some("invalidSyntax"));
    let response = scim.patch(&format!("/Users/{id}"), patch_op(json!([{"op": "frobnicate", "path": "title", "value": "x"}]))).await;
    assert_scim_error(&response, 400, None);
    assert!(response.body["detail"].as_str().unwrap().contains("frobnicate"), "{}", response.body);
    for (operation, scim_type) in [
        (json!({"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}), "invalidPath"),
        (json!({"op": "replace", "path": "noSuchAttribute", "value": "x"}), "invalidPath"),
        (json!({"op": "replace", "path": "name.noSuchPart", "value": "x"}), "invalidPath"),
        (json!({"op": "remove"}), "noTarget"),
        (json!({"op": "add", "path": "groups", "value": [{"value": "g1"}]}), "mutability"),
        (json!({"op": "replace", "path": "id", "value": "mine"}), "mutability"),
    ] {
        let response = scim.patch(&format!("/Users/{id}"), patch_op(json!([operation.clone()]))).await;
        assert_scim_error(&response, 400, Some(scim_type));
        assert_eq!(read(&scim, &id).await, before, "{operation} changed nothing");
    }
}

async fn a_stray_id_inside_a_pathless_value_is_ignored(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let answer = patch_ok(&scim, &id, json!([{"op": "replace", "value": {"id": "hijack", "displayName": "Ines X"}}])).await;
    assert_eq!(answer["id"], id.as_str());
    assert_eq!(read(&scim, &id).await["displayName"], "Ines X");
    assert_eq!(scim.get("/Users/hijack").await.status, 404);
}

async fn a_post_without_user_name_is_400_invalid_value(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    for user_name in [None, Some(json!("")), Some(json!(null))] {
        let mut body = entra_user("ines@acme.example");
        match user_name {
            None => {
                body.as_object_mut().unwrap().remove("userName");
            }
            Some(v) => body["userName"] = v,
        }
        let response = scim.post("/Users", body).await;
        assert_scim_error(&response, 400, Some("invalidValue"));
        assert!(response.body["detail"].as_str().unwrap().contains("userName"), "{}", response.body);
    }
    assert_eq!(user_names(&scim, "userName pr").await.len(), 0);
}

async fn a_post_without_any_email_is_400_invalid_value_asking_for_an_email(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    for emails in [None, Some(json!([])), Some(json!([{"type": "work", "value": "not-an-address"}]))] {
        let mut body = json!({"schemas": [CORE], "userName": "jdoe", "displayName": "J Doe"});
        if let Some(emails) = emails {
            body["emails"] = emails;
        }
        let response = scim.post("/Users", body).await;
        assert_scim_error(&response, 400, Some("invalidValue"));
        assert!(response.body["detail"].as_str().unwrap().to_lowercase().contains("email"), "{}", response.body);
    }
    assert_eq!(user_names(&scim, "userName pr").await.len(), 0);
    let upn_is_an_address = scim.post("/Users", json!({"schemas": [CORE], "userName": "jdoe@acme.example"})).await;
    assert_eq!(upn_is_an_address.status, 201, "{}", upn_is_an_address.body);
}

async fn a_taken_external_id_is_409_uniqueness(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    scim.create_user("ines@acme.example").await;
    // Same local part, so the same externalId "ines".
    let duplicate = scim.post("/Users", entra_user("ines@globex.example")).await;
    assert_scim_error(&duplicate, 409, Some("uniqueness"));
    assert!(duplicate.body["detail"].as_str().unwrap().contains("externalId"), "{}", duplicate.body);
    let other = scim.create_user("paul@acme.example").await;
    let taken = scim.patch(&format!("/Users/{other}"), patch_op(json!([{"op": "replace", "path": "externalId", "value": "INES"}]))).await;
    assert_scim_error(&taken, 409, Some("uniqueness"));
    assert_eq!(read(&scim, &other).await["externalId"], "paul");
}

async fn a_user_name_rename_applies_and_the_old_name_no_longer_matches(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines.moreau@acme.example").await;
    patch_ok(&scim, &id, json!([{"op": "Replace", "path": "userName", "value": "ines.moreau-dupont@acme.example"}])).await;
    assert_eq!(read(&scim, &id).await["userName"], "ines.moreau-dupont@acme.example");
    assert_eq!(user_names(&scim, "userName eq \"ines.moreau@acme.example\"").await.len(), 0);
    assert_eq!(user_names(&scim, "userName eq \"ines.moreau-dupont@acme.example\"").await, ["ines.moreau-dupont@acme.example"]);
}

async fn uniqueness_conflicts_only_with_users_the_api_still_shows(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let gone = scim.create_user("ann@acme.example").await;
    let bob = scim.create_user("bob@acme.example").await;
    assert_eq!(scim.delete(&format!("/Users/{gone}")).await.status, 204);
    // Entra's matching query says nobody has these values any more ...
    assert_eq!(user_names(&scim, "externalId eq \"ann\"").await.len(), 0);
    assert_eq!(user_names(&scim, "userName eq \"ann@acme.example\"").await.len(), 0);
    // ... so a new person may take the externalId, and a live user the userName.
    let mut newcomer = entra_user("carl@acme.example");
    newcomer["externalId"] = json!("ann");
    let created = scim.post("/Users", newcomer).await;
    assert_eq!(created.status, 201, "externalId of a deleted user: {}", created.body);
    let renamed = scim.patch(&format!("/Users/{bob}"), patch_op(json!([{"op": "replace", "path": "userName", "value": "ann@acme.example"}]))).await;
    assert_eq!(renamed.status, 200, "userName of a deleted user: {}", renamed.body);
    assert_eq!(user_names(&scim, "userName eq \"ann@acme.example\"").await, ["ann@acme.example"]);
}

// ----- lists -----

async fn paging_over_twelve_users_is_stable_and_never_overlaps(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    create_users(&scim, 12).await;
    let mut seen = Vec::new();
    for (start, expected) in [(1, 5), (6, 5), (11, 2)] {
        let page = scim.get(&format!("/Users?startIndex={start}&count=5")).await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(page.body["startIndex"], start);
        assert_eq!(page.body["itemsPerPage"], expected);
        assert_eq!(page.body["totalResults"], 12);
        let ids = ids_of(&page);
        assert_eq!(ids.len(), expected);
        let again = scim.get(&format!("/Users?startIndex={start}&count=5")).await;
        assert_eq!(ids_of(&again), ids, "the same page twice is the same");
        seen.extend(ids);
    }
    let mut distinct = seen.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 12, "no overlap, nobody missed: {seen:?}");
    let past_the_end = scim.get("/Users?startIndex=13&count=5").await;
    assert_eq!(past_the_end.body["totalResults"], 12);
    assert_eq!(past_the_end.body["Resources"], json!([]));
    // RFC 7644 §3.4.2.4: a startIndex below 1 is read as 1.
    let below_one = scim.get("/Users?startIndex=0&count=5").await;
    assert_eq!(below_one.body["startIndex"], 1);
    assert_eq!(ids_of(&below_one), seen[..5]);
}

async fn count_zero_returns_only_the_total(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    create_users(&scim, 3).await;
    let response = scim.get("/Users?count=0").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["totalResults"], 3);
    assert_eq!(response.body["itemsPerPage"], 0);
    assert_eq!(response.body["Resources"], json!([]));
    let negative = scim.get("/Users?count=-3").await;
    assert_eq!(negative.status, 200, "a negative count is read as 0: {}", negative.body);
    assert_eq!((&negative.body["totalResults"], &negative.body["Resources"]), (&json!(3), &json!([])));
    let filtered = scim.get("/Users?count=0&filter=userName+sw+%22user01%22").await;
    assert_eq!(filtered.body["totalResults"], 1);
    assert_eq!(filtered.body["Resources"], json!([]));

    // Entra's own lookups (userName eq, externalId eq) take a shorter road: same paging.
    for filter in ["userName+eq+%22USER02@Acme.Example%22", "externalId+eq+%22User02%22"] {
        let page = |query: String| {
            let scim = &scim;
            async move { scim.get(&format!("/Users?filter={filter}{query}")).await }
        };
        let all = page(String::new()).await;
        assert_eq!((all.status, &all.body["totalResults"], &all.body["itemsPerPage"]), (200, &json!(1), &json!(1)), "{filter}: {}", all.body);
        assert_eq!(all.body["Resources"][0]["userName"], "user02@acme.example", "{filter}");
        for query in ["&count=0", "&startIndex=2", "&startIndex=2&count=5"] {
            let empty = page(query.to_owned()).await;
            assert_eq!((&empty.body["totalResults"], &empty.body["Resources"]), (&json!(1), &json!([])), "{filter}{query}: {}", empty.body);
        }
        let first = page("&startIndex=1&count=1".to_owned()).await;
        assert_eq!((&first.body["totalResults"], &first.body["startIndex"], &first.body["itemsPerPage"]), (&json!(1), &json!(1), &json!(1)), "{filter}");
    }
    // A bad filter is reported before a bad sort order.
    let both = scim.get("/Users?filter=bogus+eq+%22x%22&sortOrder=sideways").await;
    assert_eq!((both.status, &both.body["scimType"]), (400, &json!("invalidFilter")), "{}", both.body);
    // The same lookup as a search body, on /Users/.search and on /.search.
    for path in ["/Users/.search", "/.search"] {
        let search = |extra: Value| {
            let mut body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName eq \"user03@acme.example\""});
            body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let scim = &scim;
            async move { scim.post(path, body).await }
        };
        let found = search(json!({})).await;
        assert_eq!((found.status, &found.body["totalResults"]), (200, &json!(1)), "{path}: {}", found.body);
        assert_eq!(found.body["Resources"][0]["userName"], "user03@acme.example", "{path}");
        let past = search(json!({"startIndex": 2})).await;
        assert_eq!((&past.body["totalResults"], &past.body["Resources"]), (&json!(1), &json!([])), "{path}: {}", past.body);
    }
}

async fn count_above_1000_is_capped_at_1000(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    // 1001 people written straight to the database (1001 POSTs would only slow the test).
    use entrada::domain::UserAttributes;
    use entrada::models::user::{NewPerson, User};
    let company = company_id(&app, &scim);
    let mut conn = app.conn();
    conn.transaction(|conn| {
        for i in 0..1001 {
            let attributes = UserAttributes { user_name: format!("bulk{i:04}@acme.example"), ..Default::default() };
            User::insert(conn, company, NewPerson::of(&attributes, "entra"), None)?;
        }
        diesel::QueryResult::Ok(())
    })
    .unwrap();
    let response = scim.get("/Users?count=5000&attributes=userName").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["totalResults"], 1001);
    assert_eq!(response.body["itemsPerPage"], 1000);
    assert_eq!(response.body["Resources"].as_array().unwrap().len(), 1000);
    let rest = scim.get("/Users?startIndex=1001&count=5000").await;
    assert_eq!(rest.body["itemsPerPage"], 1);
}

async fn sort_by_user_name_ascending_and_descending(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    for name in ["carol@acme.example", "alice@acme.example", "Bob@acme.example"] {
        scim.create_user(name).await;
    }
    let order = |response: ScimResponse| -> Vec<String> {
        response.body["Resources"].as_array().unwrap().iter().map(|r| r["userName"].as_str().unwrap().to_owned()).collect()
    };
    let ascending = ["alice@acme.example", "Bob@acme.example", "carol@acme.example"];
    assert_eq!(order(scim.get("/Users?sortBy=userName").await), ascending);
    assert_eq!(order(scim.get("/Users?sortBy=userName&sortOrder=ascending").await), ascending);
    let descending: Vec<&str> = ascending.iter().rev().copied().collect();
    assert_eq!(order(scim.get("/Users?sortBy=userName&sortOrder=descending").await), descending);
    assert_eq!(order(scim.get("/Users?sortBy=USERNAME&sortOrder=DESCENDING").await), descending);
    assert_scim_error(&scim.get("/Users?sortBy=userName&sortOrder=sideways").await, 400, None);
}

async fn attributes_and_excluded_attributes_project_the_resources_but_keep_id(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let listed = scim.get("/Users?attributes=userName").await;
    let only = &listed.body["Resources"][0];
    assert_eq!(only["id"], id.as_str());
    assert_eq!(only["userName"], "ines@acme.example");
    for gone in ["emails", "displayName", "name", "phoneNumbers", ENTERPRISE] {
        assert!(only.get(gone).is_none(), "attributes=userName returned {gone}: {only}");
    }
    let one = scim.get(&format!("/Users/{id}?attributes=userName,name.familyName")).await.body;
    assert_eq!(one["id"], id.as_str());
    assert_eq!(one["name"], json!({"familyName": "ines"}));
    assert!(one.get("emails").is_none());

    let listed = scim.get("/Users?excludedAttributes=emails").await.body["Resources"][0].clone();
    let one = scim.get(&format!("/Users/{id}?excludedAttributes=emails,id")).await.body;
    for resource in [listed, one] {
        assert_eq!(resource["id"], id.as_str(), "id is always returned");
        assert!(resource.get("emails").is_none(), "{resource}");
        assert_eq!(resource["displayName"], "Display ines");
        assert_eq!(resource[ENTERPRISE]["department"], "Operations");
    }
}

// ----- filters -----

async fn every_comparison_operator_filters_single_valued_attributes(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    let [alice, _, _] = filter_population(&scim).await;
    for (filter, expected) in [
        ("userName eq \"alice@acme.example\"", &["alice"][..]),
        ("userName ne \"alice@acme.example\"", &["bob", "carol"]),
        ("displayName co \"ob Ba\"", &["bob"]),
        ("displayName co \"OB BA\"", &["bob"]),
        ("userName sw \"car\"", &["carol"]),
        ("userName ew \"@acme.example\"", &["alice", "bob", "carol"]),
        ("title pr", &["alice", "bob"]),
        ("userName gt \"bob@acme.example\"", &["carol"]),
        ("userName ge \"bob@acme.example\"", &["bob", "carol"]),
        ("userName lt \"bob@acme.example\"", &["alice"]),
        ("userName le \"bob@acme.example\"", &["alice", "bob"]),
        ("name.familyName eq \"baker\"", &["bob"]),
        ("name.familyName sw \"C\"", &["carol"]),
        ("title eq \"engineer\"", &["alice"]),
        ("title co \"age\"", &["bob"]),
        ("displayName ne \"Alice Archer\"", &["bob", "carol"]),
    ] {
        assert_eq!(short_names(&scim, filter).await, expected, "{filter}");
    }

    // meta.lastModified: move alice's last change back to 2020.
    use entrada::db::schema::users;
    let in_2020 = chrono::NaiveDate::from_ymd_opt(2020, 6, 1).unwrap().and_hms_opt(12, 0, 0).unwrap();
    diesel::update(users::table.filter(users::scim_id.eq(&alice))).set(users::updated_at.eq(in_2020)).execute(&mut app.conn()).unwrap();
    assert_eq!(read(&scim, &alice).await["meta"]["lastModified"], "2020-06-01T12:00:00.000Z");
    for (filter, expected) in [
        ("meta.lastModified lt \"2021-01-01T00:00:00Z\"", &["alice"][..]),
        ("meta.lastModified le \"2020-06-01T12:00:00Z\"", &["alice"]),
        ("meta.lastModified gt \"2021-01-01T00:00:00Z\"", &["bob", "carol"]),
        ("meta.lastModified ge \"2020-06-01T12:00:00Z\"", &["alice", "bob", "carol"]),
        ("meta.lastModified gt \"2020-06-01T12:00:00Z\"", &["bob", "carol"]),
        ("meta.lastModified eq \"2020-06-01T14:00:00+02:00\"", &["alice"]),
    ] {
        assert_eq!(short_names(&scim, filter).await, expected, "{filter}");
    }
}

async fn and_or_not_with_parentheses_combine_filters(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    filter_population(&scim).await;
    for (filter, expected) in [
        ("userName eq \"alice@acme.example\" or userName eq \"carol@acme.example\"", &["alice", "carol"][..]),
        ("title pr and displayName sw \"B\"", &["bob"]),
        ("not (userName eq \"alice@acme.example\")", &["bob", "carol"]),
        ("(title eq \"Engineer\" or title eq \"Manager\") and not (displayName sw \"Bob\")", &["alice"]),
        ("title eq \"Engineer\" or title eq \"Manager\" and displayName sw \"Bob\"", &["alice", "bob"]),
        ("(title eq \"Engineer\" or title eq \"Manager\") and displayName sw \"Bob\"", &["bob"]),
        ("not (title pr)", &["carol"]),
        ("userName eq \"alice@acme.example\" AND title EQ \"Engineer\"", &["alice"]),
    ] {
        assert_eq!(short_names(&scim, filter).await, expected, "{filter}");
    }
}

async fn multi_valued_extension_manager_and_active_filters_match(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let [alice, bob, carol] = filter_population(&scim).await;
    patch_ok(&scim, &bob, json!([{"op": "add", "path": ent("manager"), "value": alice}])).await;
    patch_ok(&scim, &carol, json!([{"op": "replace", "path": "active", "value": false}])).await;
    for (filter, expected) in [
        ("emails[type eq \"work\" and value co \"@acme\"]".to_owned(), &["alice", "carol"][..]),
        ("emails[type eq \"work\"].value eq \"bob@globex.example\"".to_owned(), &["bob"]),
        ("emails.value eq \"bob@globex.example\"".to_owned(), &["bob"]),
        ("emails.value ew \"@globex.example\"".to_owned(), &["bob"]),
        (format!("{} eq \"Operations\"", ent("department")), &["alice"]),
        (format!("{} eq \"Sales\" or {} eq \"Operations\"", ent("department"), ent("department")), &["alice", "bob"]),
        (format!("{}.value eq \"{alice}\"", ent("manager")), &["bob"]),
        (format!("id eq \"{bob}\" and {} eq \"{alice}\"", ent("manager")), &["bob"]),
        ("active eq false".to_owned(), &["carol"]),
        ("active eq true".to_owned(), &["alice", "bob"]),
        // U15, the legacy reference check: `manager` without the extension URN.
        (format!("id eq \"{bob}\" and manager eq \"{alice}\""), &["bob"]),
        (format!("id eq \"{carol}\" and manager eq \"{alice}\""), &[]),
    ] {
        assert_eq!(short_names(&scim, &filter).await, expected, "{filter}");
    }
    // The legacy reference check (U15) also asks for `attributes=id`.
    let query = serde_urlencoded::to_string([("filter", format!("id eq \"{bob}\" and manager eq \"{alice}\"")), ("attributes", "id".to_owned())]).unwrap();
    let check = scim.get(&format!("/Users?{query}")).await;
    assert_eq!(check.status, 200, "{}", check.body);
    assert_eq!(ids_of(&check), [bob]);
}

// ----- meta, ETags, PUT, DELETE -----

async fn meta_has_absolute_location_rfc3339_dates_and_a_version_that_is_the_etag(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let created = scim.post("/Users", entra_user("ines@acme.example")).await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let meta = &created.body["meta"];
    assert_eq!(meta["resourceType"], "User");
    assert_eq!(meta["location"], format!("{}/Users/{id}", scim.base));
    assert!(scim.base.starts_with("http://"), "absolute location");
    let created_at = rfc3339(&meta["created"]);
    assert_eq!(rfc3339(&meta["lastModified"]), created_at);
    assert_version(&created, 1);

    let writes: [(&str, Option<Value>); 3] = [
        ("PATCH", Some(patch_op(json!([{"op": "Replace", "path": "title", "value": "Lead"}])))),
        ("PUT", Some(entra_user("ines@acme.example"))),
        ("PATCH", Some(patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}])))),
    ];
    for (version, (method, body)) in (2..).zip(writes) {
        let written = scim.send(method, &format!("/Users/{id}"), body.as_ref()).await;
        assert_eq!(written.status, 200, "{}", written.body);
        assert_version(&written, version);
        let got = scim.get(&format!("/Users/{id}")).await;
        assert_version(&got, version);
        assert_eq!(rfc3339(&got.body["meta"]["created"]), created_at, "created never moves");
        assert!(rfc3339(&got.body["meta"]["lastModified"]) >= created_at);
    }
}

async fn if_match_with_a_stale_etag_is_412_and_with_the_current_one_succeeds(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let path = format!("/Users/{id}");
    let title = |value: &str| Some(patch_op(json!([{"op": "Replace", "path": "title", "value": value}])).to_string());
    let first = scim.send_with("PATCH", &path, title("One"), &[("If-Match", "W/\"1\"")]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_version(&first, 2);

    let stale = [("If-Match", "W/\"1\"")];
    assert_scim_error(&scim.send_with("PATCH", &path, title("Two"), &stale).await, 412, None);
    assert_scim_error(&scim.send_with("PUT", &path, Some(entra_user("ines@acme.example").to_string()), &stale).await, 412, None);
    assert_scim_error(&scim.send_with("DELETE", &path, None, &stale).await, 412, None);
    let user = read(&scim, &id).await;
    assert_eq!(user["title"], "One");
    assert_eq!(user["meta"]["version"], "W/\"2\"");

    let current = [("If-Match", "W/\"2\"")];
    assert_eq!(scim.send_with("PATCH", &path, title("Two"), &current).await.status, 200);
    assert_eq!(read(&scim, &id).await["title"], "Two");
    assert_eq!(scim.send_with("DELETE", &path, None, &[("If-Match", "W/\"3\"")]).await.status, 204);
}

async fn put_replaces_the_user_and_drops_attributes_it_does_not_send(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let replacement = json!({
        "schemas": [CORE],
        "userName": "ines.dupont@acme.example",
        "active": true,
        "displayName": "Ines Dupont",
        "emails": [{"type": "work", "value": "ines.dupont@acme.example"}]
    });
    let put = scim.put(&format!("/Users/{id}"), replacement.clone()).await;
    assert_eq!(put.status, 200, "{}", put.body);
    let user = read(&scim, &id).await;
    assert_eq!(user, put.body);
    assert_eq!(user["id"], id.as_str());
    assert_attributes_as_sent(&user, &replacement);
    for gone in ["title", "phoneNumbers", "name", "externalId", "roles", ENTERPRISE] {
        assert!(user.get(gone).is_none(), "{gone} was not in the PUT: {user}");
    }
    assert_eq!(user["schemas"], json!([CORE]));
}

async fn delete_is_204_then_404_and_a_new_post_restores_the_same_person(backend: Backend) {
    let Some((app, scim)) = acme(backend).await else { return };
    let id = scim.create_user("ines@acme.example").await;
    let path = format!("/Users/{id}");
    let deleted = scim.delete(&path).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(deleted.body, Value::Null);
    assert_scim_error(&scim.get(&path).await, 404, None);
    assert_scim_error(&scim.delete(&path).await, 404, None);
    assert_scim_error(&scim.patch(&path, patch_op(json!([{"op": "replace", "path": "title", "value": "x"}]))).await, 404, None);
    assert_scim_error(&scim.put(&path, entra_user("ines@acme.example")).await, 404, None);
    assert_eq!(user_names(&scim, "userName eq \"ines@acme.example\"").await.len(), 0);

    let mut again = entra_user("ines@acme.example");
    again["title"] = json!("Back Again");
    let restored = scim.post("/Users", again).await;
    assert_eq!(restored.status, 201, "{}", restored.body);
    let new_id = restored.body["id"].as_str().unwrap().to_owned();
    let user = read(&scim, &new_id).await;
    assert_eq!(user["title"], "Back Again");
    assert_eq!(user_names(&scim, "userName eq \"ines@acme.example\"").await, ["ines@acme.example"]);

    use entrada::db::schema::users;
    let rows: Vec<(String, Option<chrono::NaiveDateTime>)> = users::table
        .filter(users::user_name_lower.eq("ines@acme.example"))
        .select((users::scim_id, users::deprovisioned_at))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(rows, [(new_id, None)], "one person, restored, never a second row");
}

// ----- discovery -----

async fn service_provider_config_states_patch_filter_etag_and_no_bulk(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let response = scim.get("/ServiceProviderConfig").await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/scim+json; charset=utf-8"));
    let config = &response.body;
    assert_eq!(config["schemas"], json!(["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]));
    assert_eq!(config["patch"]["supported"], true);
    assert_eq!(config["filter"]["supported"], true);
    assert_eq!(config["filter"]["maxResults"], 1000);
    assert_eq!(config["bulk"]["supported"], false);
    assert_eq!(config["etag"]["supported"], true);
    assert_eq!(config["changePassword"]["supported"], false);
    assert_eq!(config["authenticationSchemes"][0]["type"], "oauthbearertoken");
}

async fn resource_types_and_schemas_are_discoverable(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let types = scim.get("/ResourceTypes").await;
    assert_list(&types);
    let user_type = find_by_id(&types.body, "User");
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schema"], CORE);
    assert_eq!(user_type["schemaExtensions"][0]["schema"], ENTERPRISE);
    let one = scim.get("/ResourceTypes/User").await;
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(&one.body, user_type);

    let schemas = scim.get("/Schemas").await;
    assert_list(&schemas);
    for urn in [CORE, ENTERPRISE] {
        let listed = find_by_id(&schemas.body, urn);
        let attributes = listed["attributes"].as_array().unwrap_or_else(|| panic!("{urn} has attributes"));
        assert!(!attributes.is_empty(), "{urn}");
        let single = scim.get(&format!("/Schemas/{urn}")).await;
        assert_eq!(single.status, 200, "{}", single.body);
        assert_eq!(&single.body, listed);
    }
    let core = find_by_id(&schemas.body, CORE);
    let user_name = core["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "userName").expect("userName");
    assert_eq!(user_name["required"], true);
    assert_eq!(user_name["uniqueness"], "server");
    let enterprise = find_by_id(&schemas.body, ENTERPRISE);
    assert!(enterprise["attributes"].as_array().unwrap().iter().any(|a| a["name"] == "manager"));
    assert_scim_error(&scim.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Printer").await, 404, None);
}

// ----- the Microsoft SCIM Validator -----

/// §4.2: the mandatory then preview User tests, in the validator's order and shapes.
async fn validator_user_tests_replayed_in_order(backend: Backend) {
    let Some((_app, scim)) = acme(backend).await else { return };
    let user_name = "vt.qwerty@acme.example";
    let by_name = |name: &str| format!("userName eq \"{name}\"");

    // Create a new User: 201, then read back through the filter and compare everything sent.
    let sent = json!({
        "schemas": [CORE, ENTERPRISE],
        "userName": user_name,
        "active": true,
        "displayName": "QWERTY",
        "title": "ZXCVB",
        "nickName": "ASDF",
        "preferredLanguage": "en-GB",
        "externalId": "vt-qwerty",
        "name": {"givenName": "Alva", "familyName": "Quinn", "formatted": "Alva Quinn"},
        "emails": [{"type": "work", "value": user_name, "primary": true}],
        "phoneNumbers": [{"type": "work", "value": "555-0100"}, {"type": "mobile", "value": "555-0101"}, {"type": "fax", "value": "555-0102"}],
        "addresses": [{"type": "work", "formatted": "1 Main St", "streetAddress": "1 Main St", "locality": "Springfield", "region": "ST", "postalCode": "12345", "country": "US", "primary": true}],
        "roles": [{"primary": "True", "display": "Role Display", "value": "RoleValue", "type": "WindowsAzureActiveDirectoryRole"}],
        ENTERPRISE: {"employeeNumber": "1001", "department": "Dept", "costCenter": "CC", "organization": "Org", "division": "Div"}
    });
    let created = scim.post("/Users", sent.clone()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    let mut expected = sent.clone();
    expected["roles"][0]["primary"] = json!(true);
    assert_attributes_as_sent(&only_match(&scim, &by_name(user_name)).await, &expected);

    // Create a duplicate User.
    assert_scim_error(&scim.post("/Users", sent.clone()).await, 409, Some("uniqueness"));

    // Filter for an existing user / a non-existing user / with a different case.
    let existing = scim.filter_users(&by_name(user_name)).await;
    assert_list(&existing);
    assert_eq!(existing.body["totalResults"], 1);
    assert_eq!(existing.body["Resources"][0]["id"], id.as_str());
    let missing = scim.filter_users(&by_name("vt.nobody@acme.example")).await;
    assert_list(&missing);
    assert_eq!(missing.body["totalResults"], 0);
    assert_eq!(only_match(&scim, &by_name(&user_name.to_uppercase())).await["id"], id.as_str());

    // Patch User - Replace Attributes: filtered paths plus one path-less op with dotted/URN keys.
    patch_ok(
        &scim,
        &id,
        json!([
            {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "vt.changed@acme.example"},
            {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": true},
            {"op": "replace", "path": "phoneNumbers[type eq \"work\"].value", "value": "555-0200"},
            {"op": "replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555-0201"},
            {"op": "replace", "path": "addresses[type eq \"work\"].streetAddress", "value": "2 Side St"},
            {"op": "replace", "path": "addresses[type eq \"work\"].locality", "value": "Shelbyville"},
            {"op": "replace", "path": "addresses[type eq \"work\"].postalCode", "value": "54321"},
            {"op": "replace", "path": "roles[primary eq \"True\"].value", "value": "RoleValue2"},
            {"op": "replace", "value": {
                "displayName": "QWERTY2",
                "title": "ZXCVB2",
                "nickName": "ASDF2",
                "preferredLanguage": "fr-FR",
                "externalId": "vt-qwerty-2",
                "name.givenName": "Alvina",
                "name.familyName": "Quinby",
                ent("employeeNumber"): "1002",
                ent("department"): "Dept2"
            }}
        ]),
    )
    .await;
    let user = only_match(&scim, &by_name(user_name)).await;
    assert_eq!(user["emails"], json!([{"type": "work", "value": "vt.changed@acme.example", "primary": true}]));
    assert_eq!(user["phoneNumbers"], json!([{"type": "work", "value": "555-0200"}, {"type": "mobile", "value": "555-0201"}, {"type": "fax", "value": "555-0102"}]));
    assert_eq!(user["addresses"][0]["streetAddress"], "2 Side St");
    assert_eq!(user["addresses"][0]["locality"], "Shelbyville");
    assert_eq!(user["addresses"][0]["postalCode"], "54321");
    assert_eq!(user["addresses"][0]["country"], "US");
    assert_eq!(user["roles"][0]["value"], "RoleValue2");
    assert_eq!(user["displayName"], "QWERTY2");
    assert_eq!(user["title"], "ZXCVB2");
    assert_eq!(user["nickName"], "ASDF2");
    assert_eq!(user["preferredLanguage"], "fr-FR");
    assert_eq!(user["externalId"], "vt-qwerty-2");
    assert_eq!(user["name"], json!({"givenName": "Alvina", "familyName": "Quinby", "formatted": "Alva Quinn"}));
    assert_eq!(user[ENTERPRISE]["employeeNumber"], "1002");
    assert_eq!(user[ENTERPRISE]["department"], "Dept2");
    assert_eq!(user[ENTERPRISE]["costCenter"], "CC");

    // Update User userName: path-less replace with userName inside the object.
    let renamed = "vt.renamed@acme.example";
    patch_ok(&scim, &id, json!([{"op": "replace", "value": {"userName": renamed}}])).await;
    assert_eq!(only_match(&scim, &by_name(renamed)).await["id"], id.as_str());
    assert_eq!(user_names(&scim, &by_name(user_name)).await.len(), 0);
    // The validator has been seen re-POSTing a name an earlier test renamed to: still a duplicate.
    let mut reposted = sent.clone();
    reposted["userName"] = json!(renamed);
    reposted["externalId"] = json!("vt-other");
    reposted["emails"] = json!([{"type": "work", "value": "vt.other@acme.example"}]);
    assert_scim_error(&scim.post("/Users", reposted).await, 409, Some("uniqueness"));

    // Patch User - Disable User: re-read through the filter, `active` present and false.
    patch_ok(&scim, &id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(only_match(&scim, &by_name(renamed)).await["active"], false);

    // Patch User - Add Manager / Replace Manager / Remove Manager (bare ids; remove = empty).
    let first = scim.create_user("vt.manager1@acme.example").await;
    let second = scim.create_user("vt.manager2@acme.example").await;
    patch_ok(&scim, &id, json!([{"op": "add", "path": ent("manager"), "value": first}])).await;
    assert_manager(&only_match(&scim, &by_name(renamed)).await, Some(&first));
    patch_ok(&scim, &id, json!([{"op": "replace", "path": ent("manager"), "value": second}])).await;
    assert_manager(&only_match(&scim, &by_name(renamed)).await, Some(&second));
    patch_ok(&scim, &id, json!([{"op": "replace", "path": ent("manager"), "value": ""}])).await;
    assert_manager(&only_match(&scim, &by_name(renamed)).await, None);
    patch_ok(&scim, &id, json!([{"op": "replace", "path": ent("manager"), "value": first}])).await;
    patch_ok(&scim, &id, json!([{"op": "replace", "path": ent("manager"), "value": {"value": ""}}])).await;
    assert_manager(&only_match(&scim, &by_name(renamed)).await, None);

    // Delete a User.
    assert_eq!(scim.delete(&format!("/Users/{id}")).await.status, 204);
    assert_scim_error(&scim.get(&format!("/Users/{id}")).await, 404, None);

    // Preview: Patch User - Multiple Ops on different attributes.
    let other = scim.create_user("vt.multi@acme.example").await;
    patch_ok(
        &scim,
        &other,
        json!([
            {"op": "add", "path": "nickName", "value": "Multi"},
            {"op": "replace", "path": "title", "value": "Several"},
            {"op": "remove", "path": "phoneNumbers"},
            {"op": "replace", "path": "name.givenName", "value": "Vee"}
        ]),
    )
    .await;
    let user = read(&scim, &other).await;
    assert_eq!((&user["nickName"], &user["title"], &user["name"]["givenName"]), (&json!("Multi"), &json!("Several"), &json!("Vee")));
    assert!(user.get("phoneNumbers").is_none());

    // Preview: Patch User - Multiple Ops on the same attribute.
    patch_ok(
        &scim,
        &other,
        json!([
            {"op": "remove", "path": "externalId"},
            {"op": "add", "path": "externalId", "value": "vt-x1"},
            {"op": "replace", "path": "externalId", "value": "vt-x2"}
        ]),
    )
    .await;
    assert_eq!(read(&scim, &other).await["externalId"], "vt-x2");

    // Preview: Delete a non-existent User; Delete the same User twice.
    assert_scim_error(&scim.delete("/Users/5f0c1d8e-0000-4000-8000-00000000dead").await, 404, None);
    assert_eq!(scim.delete(&format!("/Users/{other}")).await.status, 204);
    assert_scim_error(&scim.delete(&format!("/Users/{other}")).await, 404, None);
    assert_eq!(read(&scim, &first).await["userName"], "vt.manager1@acme.example", "the others are untouched");
}

// ----- helpers -----

/// A request to any URL (e.g. another shortcode), with exactly this Authorization header.
async fn call(app: &TestApp, method: &str, url: &str, authorization: Option<&str>) -> ScimResponse {
    let mut request = app.client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = request.send().await.expect("request");
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    ScimResponse { status, headers, body }
}

fn company_id(app: &TestApp, scim: &Scim) -> entrada::models::CompanyId {
    entrada::models::Company::find_by_shortcode(&mut app.conn(), &scim.shortcode).unwrap().expect("company").company_id()
}

/// `user01@acme.example` … `userNN@acme.example`.
async fn create_users(scim: &Scim, count: usize) {
    for i in 1..=count {
        scim.create_user(&format!("user{i:02}@acme.example")).await;
    }
}

fn ids_of(list: &ScimResponse) -> Vec<String> {
    list.body["Resources"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
}

/// alice (Engineer, Operations), bob (Manager, Sales, work email at globex) and carol (no
/// title, no department); returns their ids.
async fn filter_population(scim: &Scim) -> [String; 3] {
    let person = |name: &str, family: &str, title: Option<&str>, department: Option<&str>, email: &str| {
        let mut body = json!({
            "schemas": [CORE, ENTERPRISE],
            "userName": format!("{}@acme.example", name.to_lowercase()),
            "displayName": format!("{name} {family}"),
            "name": {"givenName": name, "familyName": family},
            "emails": [{"type": "work", "value": email}],
            "active": true
        });
        if let Some(title) = title {
            body["title"] = json!(title);
        }
        if let Some(department) = department {
            body[ENTERPRISE] = json!({"department": department});
        }
        body
    };
    let bodies = [
        person("Alice", "Archer", Some("Engineer"), Some("Operations"), "alice@acme.example"),
        person("Bob", "Baker", Some("Manager"), Some("Sales"), "bob@globex.example"),
        person("Carol", "Cole", None, None, "carol@acme.example"),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        let created = scim.post("/Users", body).await;
        assert_eq!(created.status, 201, "{}", created.body);
        ids.push(created.body["id"].as_str().unwrap().to_owned());
    }
    ids.try_into().unwrap()
}

/// The filter's matches as local parts of their userNames (`alice`), sorted.
async fn short_names(scim: &Scim, filter: &str) -> Vec<String> {
    user_names(scim, filter).await.into_iter().map(|n| n.split('@').next().unwrap().to_owned()).collect()
}

/// The one resource a filter returns.
async fn only_match(scim: &Scim, filter: &str) -> Value {
    let response = scim.filter_users(filter).await;
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.body["totalResults"], 1, "{filter}: {}", response.body);
    response.body["Resources"][0].clone()
}

fn assert_list(response: &ScimResponse) {
    assert_eq!(response.status, 200, "{}", response.body);
    assert_eq!(response.header("content-type"), Some("application/scim+json; charset=utf-8"));
    assert_eq!(response.body["schemas"], json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]));
    let resources = response.body["Resources"].as_array().expect("Resources");
    assert_eq!(response.body["itemsPerPage"], resources.len());
    assert_eq!(response.body["startIndex"], 1);
}

fn find_by_id<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["Resources"].as_array().unwrap().iter().find(|r| r["id"] == id).unwrap_or_else(|| panic!("no {id} in {list}"))
}

fn assert_version(response: &ScimResponse, version: u32) {
    let tag = format!("W/\"{version}\"");
    assert_eq!(response.body["meta"]["version"], tag.as_str(), "{}", response.body);
    assert_eq!(response.header("etag"), Some(tag.as_str()));
}

fn rfc3339(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    let text = value.as_str().unwrap_or_else(|| panic!("not a string: {value}"));
    chrono::DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}
