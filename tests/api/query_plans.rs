//! Queries whose cost would otherwise grow with a company's size or history are answered from
//! an index: checked on the plan each database makes for the query as the application sends it.

use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
use entrada::db::schema::activity;
use entrada::db::{AnyConnection, query_plan};
use entrada::domain::{CompanyName, Shortcode};
use entrada::models::Company;
use entrada::models::activity::{Activity, NewActivity};

use crate::helpers::Backend;
use crate::{on_both_backends, test_db};

on_both_backends!(a_persons_events_come_from_their_own_index);

fn company(conn: &mut AnyConnection, shortcode: &str) -> Company {
    Company::create(conn, &Shortcode::parse(shortcode).unwrap(), &CompanyName::parse("Plans").unwrap(), true).unwrap()
}

/// `count` events of `company`, spread over people 1..=people (`None`: events about no one).
fn events(conn: &mut AnyConnection, company: &Company, count: i64, person: impl Fn(i64) -> Option<i64>) {
    let rows: Vec<NewActivity> = (0..count)
        .map(|i| NewActivity { user_id: person(i), ..NewActivity::new(company.company_id(), "Entra ID", "update", "User") })
        .collect();
    for chunk in rows.chunks(500) {
        entrada::per_backend!(&mut *conn, c => diesel::insert_into(activity::table).values(chunk).execute(c)).unwrap();
    }
}

async fn a_persons_events_come_from_their_own_index(backend: Backend) {
    let db = test_db!(backend);
    let mut conn = entrada::db::Database::connect_single(&db.url).unwrap();
    entrada::db::run_migrations(&mut conn).unwrap();
    let ours = company(&mut conn, "p01");
    let theirs = company(&mut conn, "p02");
    // Person 7 acts early in a long history, then once more at the end; company p02 holds
    // an event that names the same person id (it must never show up in p01).
    events(&mut conn, &ours, 30, |_| Some(7));
    events(&mut conn, &ours, 20_000, |i| if i % 10 == 0 { None } else { Some(100 + i % 4_000) });
    events(&mut conn, &theirs, 1, |_| Some(7));
    events(&mut conn, &ours, 1, |_| Some(7));
    if backend == Backend::Postgres {
        diesel::sql_query("ANALYZE activity").execute(&mut conn).unwrap();
    }

    let found = Activity::for_user(&mut conn, ours.company_id(), 7, 20).unwrap();
    assert_eq!(found.len(), 20);
    assert!(found.iter().all(|e| e.user_id == Some(7) && e.company_id == ours.company_id().0));
    assert!(found.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let newest: i64 = entrada::per_backend!(&mut conn, c => activity::table
        .select(diesel::dsl::max(activity::id))
        .filter(activity::company_id.eq(ours.company_id().0))
        .first::<Option<i64>>(c))
    .unwrap()
    .unwrap();
    assert_eq!(found[0].id, newest, "the person's latest event comes first");

    if backend == Backend::Postgres {
        // The plan the application's prepared statement settles on: one for any person.
        diesel::sql_query("SET plan_cache_mode = force_generic_plan").execute(&mut conn).unwrap();
    }
    let plan = query_plan(&mut conn, Activity::for_user_query(ours.company_id(), 7, 20)).unwrap().join("\n");
    assert!(plan.contains("activity_user"), "{backend:?} plan:\n{plan}");
    assert!(!plan.contains("SCAN activity") && !plan.contains("Seq Scan"), "{backend:?} plan:\n{plan}");
}
