//! The provisioning rules called as plain functions on a real database (no HTTP), each on
//! its own, on both backends.

use entrada::db::AnyConnection;
use entrada::domain::{CompanyName, PassleName, ProvisioningMode, Shortcode, UserAttributes};
use entrada::models::assignment::Assignment;
use entrada::models::passle::Passle;
use entrada::models::user::{NewPerson, User};
use entrada::models::Company;
use entrada::provisioning::connection::disconnect;
use entrada::provisioning::users::{create_user, deprovision_user, update_user};
use entrada::provisioning::{PersonStatus, ProvisioningError};

use crate::helpers::{Backend, TestDb};
use crate::{on_both_backends, test_db};

on_both_backends!(
    rule_1_configuration_sets_up_new_people_only,
    rule_3_a_create_links_the_existing_person,
    rule_6_a_create_without_email_is_refused,
    rule_7_title_applies_only_with_sync,
    rule_8_disable_delete_and_restore_lose_nothing,
    rule_9_disconnect_revokes_and_can_disable_everyone,
);

fn setup(db: &TestDb) -> (AnyConnection, Company) {
    let mut conn = entrada::db::Database::connect_single(&db.url).unwrap();
    entrada::db::run_migrations(&mut conn).unwrap();
    let company = Company::create(&mut conn, &Shortcode::parse("a01").unwrap(), &CompanyName::parse("Acme").unwrap(), true).unwrap();
    (conn, company)
}

fn person(user_name: &str) -> UserAttributes {
    UserAttributes { user_name: user_name.into(), active: Some(true), title: Some("Lead".into()), ..Default::default() }
}

fn reload(conn: &mut AnyConnection, company: &Company) -> Company {
    Company::find(conn, company.company_id()).unwrap().unwrap()
}

async fn rule_1_configuration_sets_up_new_people_only(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    let id = company.company_id();
    let news = Passle::create(&mut conn, id, &PassleName::parse("News").unwrap()).unwrap();
    let first = create_user(&mut conn, &company, person("a@x.example").into()).unwrap().user;
    assert!(Assignment::for_user(&mut conn, id, first.row.id).unwrap().is_empty());
    assert_eq!(first.row.role, None);
    Company::set_provisioning_mode(&mut conn, id, ProvisioningMode::AllPassles).unwrap();
    let company = reload(&mut conn, &company);
    let second = create_user(&mut conn, &company, person("b@x.example").into()).unwrap().user;
    let granted = Assignment::for_user(&mut conn, id, second.row.id).unwrap();
    assert_eq!(granted.iter().map(|a| (a.passle_id, a.role.as_str(), a.source.as_str())).collect::<Vec<_>>(), [(news.id, "content_creator", "configuration")]);
    assert!(Assignment::for_user(&mut conn, id, first.row.id).unwrap().is_empty(), "existing people are not rewritten");
}

async fn rule_3_a_create_links_the_existing_person(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    let attrs = person("Ines@X.example");
    let manual = User::insert(&mut conn, company.company_id(), NewPerson::of(&attrs, "manual").role(Some("editor")), None).unwrap();
    let created = create_user(&mut conn, &company, person("ines@x.example").into()).unwrap();
    assert!(created.linked);
    assert_eq!(created.user.row.id, manual.row.id);
    assert_eq!(created.user.row.source, "entra");
    assert_eq!(created.user.row.role.as_deref(), Some("editor"));
    assert!(matches!(create_user(&mut conn, &company, person("INES@x.example").into()), Err(ProvisioningError::Conflict(_))));
}

async fn rule_6_a_create_without_email_is_refused(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    assert!(matches!(create_user(&mut conn, &company, person("jdoe").into()), Err(ProvisioningError::EmailRequired)));
}

async fn rule_7_title_applies_only_with_sync(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    let off = create_user(&mut conn, &company, person("off@x.example").into()).unwrap().user;
    assert_eq!(off.row.job_title, None);
    Company::set_job_title_sync(&mut conn, company.company_id(), true).unwrap();
    let company = reload(&mut conn, &company);
    let on = create_user(&mut conn, &company, person("on@x.example").into()).unwrap().user;
    assert_eq!(on.row.job_title.as_deref(), Some("Lead"));
}

async fn rule_8_disable_delete_and_restore_lose_nothing(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    let id = company.company_id();
    Passle::create(&mut conn, id, &PassleName::parse("News").unwrap()).unwrap();
    Company::set_provisioning_mode(&mut conn, id, ProvisioningMode::AllPassles).unwrap();
    let company = reload(&mut conn, &company);
    let user = create_user(&mut conn, &company, person("a@x.example").into()).unwrap().user;
    let disable = |a: &UserAttributes| Ok::<_, ProvisioningError>(UserAttributes { active: Some(false), ..a.clone() });
    let disabled = update_user(&mut conn, &company, &user.row.scim_id, None, "update", None, disable).unwrap();
    assert_eq!(PersonStatus::of(&disabled.row, 1), PersonStatus::DisabledInEntra);
    assert_eq!(Assignment::for_user(&mut conn, id, user.row.id).unwrap().len(), 1, "assignments kept while disabled");
    deprovision_user(&mut conn, &company, &user.row.scim_id, None).unwrap();
    assert!(User::find_by_scim_id(&mut conn, &company, &user.row.scim_id).unwrap().is_none(), "gone for SCIM");
    let kept = User::find_for_portal(&mut conn, id, user.row.id).unwrap().unwrap();
    assert!(kept.row.deprovisioned_at.is_some());
    let restored = create_user(&mut conn, &company, person("A@x.example").into()).unwrap();
    assert!(restored.linked);
    assert_eq!(restored.user.row.id, user.row.id);
    assert_eq!(Assignment::for_user(&mut conn, id, user.row.id).unwrap().len(), 1);
}

async fn rule_9_disconnect_revokes_and_can_disable_everyone(backend: Backend) {
    let db = test_db!(backend);
    let (mut conn, company) = setup(&db);
    let id = company.company_id();
    let code = Shortcode::parse("a01").unwrap();
    entrada::models::scim_token::ScimToken::rotate(&mut conn, id, &code).unwrap();
    let user = create_user(&mut conn, &company, person("a@x.example").into()).unwrap().user;
    assert_eq!(disconnect(&mut conn, id, "admin@x.example", false).unwrap(), 0);
    assert!(entrada::models::scim_token::ScimToken::current(&mut conn, id).unwrap().is_none());
    assert_eq!(User::find_for_portal(&mut conn, id, user.row.id).unwrap().unwrap().row.scim_active, Some(true));
    entrada::models::scim_token::ScimToken::rotate(&mut conn, id, &code).unwrap();
    assert_eq!(disconnect(&mut conn, id, "admin@x.example", true).unwrap(), 1);
    assert_eq!(User::find_for_portal(&mut conn, id, user.row.id).unwrap().unwrap().row.scim_active, Some(false));
}
