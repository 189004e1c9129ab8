//! `Database::write` semantics under concurrency, on both backends. On SQLite the writes of
//! one moment share a transaction (group commit, one savepoint each): these tests prove that a
//! failing write still takes only its own changes with it, and every caller gets its own
//! outcome.

use entrada::db::{AnyConnection, Database, DbError, PoolOptions, atomically};
use entrada::domain::{CompanyName, PassleName, Shortcode};
use entrada::models::Company;
use entrada::models::passle::Passle;

use crate::helpers::{Backend, TestDb};
use crate::{on_both_backends, test_db};

on_both_backends!(
    concurrent_writes_that_fail_roll_back_only_their_own_changes,
    a_unique_violation_in_one_write_leaves_the_writes_around_it_committed,
    under_autocommit_atomically_keeps_all_or_nothing_of_its_writes,
);

#[derive(Debug, PartialEq)]
enum Outcome {
    Refused(usize),
    Db(String),
}

impl From<DbError> for Outcome {
    fn from(err: DbError) -> Self {
        Outcome::Db(err.to_string())
    }
}

fn setup(db: &TestDb) -> (Database, Company) {
    let database = Database::connect(&db.url, PoolOptions::default()).unwrap();
    let mut conn = Database::connect_single(&db.url).unwrap();
    entrada::db::run_migrations(&mut conn).unwrap();
    let company = Company::create(&mut conn, &Shortcode::parse("a01").unwrap(), &CompanyName::parse("Acme").unwrap(), true).unwrap();
    (database, company)
}

fn passle_names(db: &TestDb, company: &Company) -> Vec<String> {
    let mut conn = Database::connect_single(&db.url).unwrap();
    let mut names: Vec<String> = Passle::list(&mut conn, company.company_id()).unwrap().into_iter().map(|p| p.name).collect();
    names.sort();
    names
}

/// Starts every write before awaiting any, so that they queue up together.
async fn all<T: 'static>(writes: impl Iterator<Item = impl Future<Output = T> + 'static>) -> Vec<T> {
    let started: Vec<_> = writes.map(actix_web::rt::spawn).collect();
    let mut results = Vec::new();
    for task in started {
        results.push(task.await.expect("write task"));
    }
    results
}

fn create_passle(conn: &mut AnyConnection, company: &Company, name: &str) -> Result<i64, Outcome> {
    Ok(Passle::create(conn, company.company_id(), &PassleName::parse(name).unwrap()).map_err(DbError::from)?.id)
}

async fn concurrent_writes_that_fail_roll_back_only_their_own_changes(backend: Backend) {
    let db = test_db!(backend);
    let (database, company) = setup(&db);
    // 200 writes queued at once: each creates a Passle; every third then fails.
    let writes = (0..200usize).map(|i| {
        let (database, company) = (database.clone(), company.clone());
        async move {
            database
                .write(move |conn| {
                    let id = create_passle(conn, &company, &format!("Passle {i:03}"))?;
                    if i % 3 == 0 { Err(Outcome::Refused(i)) } else { Ok(id) }
                })
                .await
        }
    });
    let results = all(writes).await;
    for (i, result) in results.iter().enumerate() {
        if i % 3 == 0 {
            assert_eq!(result, &Err(Outcome::Refused(i)), "write {i} gets its own error");
        } else {
            assert!(matches!(result, Ok(id) if *id > 0), "write {i} succeeded: {result:?}");
        }
    }
    let expected: Vec<String> = (0..200).filter(|i| i % 3 != 0).map(|i| format!("Passle {i:03}")).collect();
    assert_eq!(passle_names(&db, &company), expected);
}

async fn a_unique_violation_in_one_write_leaves_the_writes_around_it_committed(backend: Backend) {
    let db = test_db!(backend);
    let (database, company) = setup(&db);
    // Writes 10..20 all try the same name: exactly one wins, the others fail on the unique
    // index, and the distinct writes queued around them are all kept.
    let writes = (0..30usize).map(|i| {
        let (database, company) = (database.clone(), company.clone());
        let name = if (10..20).contains(&i) { "Shared".to_owned() } else { format!("Own {i:02}") };
        async move { database.write(move |conn| create_passle(conn, &company, &name)).await }
    });
    let results = all(writes).await;
    let shared_ok = results[10..20].iter().filter(|r| r.is_ok()).count();
    assert_eq!(shared_ok, 1, "one of the same-name writes wins: {:?}", &results[10..20]);
    for (i, result) in results.iter().enumerate().filter(|(i, _)| !(10..20).contains(i)) {
        assert!(result.is_ok(), "write {i}: {result:?}");
    }
    let names = passle_names(&db, &company);
    assert_eq!(names.len(), 21);
    assert_eq!(names.iter().filter(|n| *n == "Shared").count(), 1);
}

/// `write_autocommit` leaves PostgreSQL in autocommit mode (each statement commits alone);
/// work that writes more than once makes it one unit with `atomically`. On SQLite both run in
/// the writer's batch, where `atomically` joins the job's savepoint.
async fn under_autocommit_atomically_keeps_all_or_nothing_of_its_writes(backend: Backend) {
    let db = test_db!(backend);
    let (database, company) = setup(&db);
    let (c1, c2) = (company.clone(), company.clone());
    let failed = database
        .write_autocommit(move |conn| {
            atomically(conn, |c| {
                create_passle(c, &c1, "First of two")?;
                create_passle(c, &c1, "Second of two")?;
                Err::<(), _>(Outcome::Refused(2))
            })
        })
        .await;
    assert_eq!(failed, Err(Outcome::Refused(2)));
    assert!(passle_names(&db, &company).is_empty(), "neither write of the failed unit is kept");
    let kept = database
        .write_autocommit(move |conn| {
            atomically(conn, |c| {
                create_passle(c, &c2, "First of two")?;
                create_passle(c, &c2, "Second of two")
            })
        })
        .await;
    assert!(kept.is_ok(), "{kept:?}");
    assert_eq!(passle_names(&db, &company), ["First of two", "Second of two"]);
}
