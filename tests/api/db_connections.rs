//! PostgreSQL's connection threads (`Database::read` / `write` there): a connection that
//! breaks is replaced, work that panics takes only itself down, work that cannot get a
//! connection in time fails with a clear error, and a dropped `Database` closes its
//! connections.

use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use entrada::db::{AnyConnection, Database, DbError, PoolOptions};

use crate::helpers::{Backend, TestDb};
use crate::test_db;

#[derive(diesel::QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Runs `sql` (one `n` column) on a PostgreSQL connection.
fn number(conn: &mut AnyConnection, sql: &str) -> Result<i64, DbError> {
    let AnyConnection::Postgresql(c) = conn else { panic!("a PostgreSQL test") };
    Ok(diesel::sql_query(sql).get_result::<Number>(c)?.n)
}

fn one_thread(db: &TestDb, wait_limit: Duration) -> Database {
    Database::connect(&db.url, PoolOptions { max_connections: 1, connection_timeout: wait_limit }).expect("connect")
}

/// Connections to this test's database, other than `admin`'s own.
fn connections_to(db: &TestDb) -> i64 {
    let name = db.url.rsplit('/').next().expect("database name").to_owned();
    let mut admin = Database::connect_single(&db.url).expect("admin connection");
    number(&mut admin, &format!("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
        .expect("pg_stat_activity")
}

#[actix_web::test]
async fn a_terminated_connection_is_replaced_by_a_new_one() {
    let db = test_db!(Backend::Postgres);
    let database = one_thread(&db, Duration::from_secs(10));
    let pid = database.read(|c| number(c, "SELECT pg_backend_pid()::bigint AS n")).await.expect("first read");
    let mut admin = Database::connect_single(&db.url).expect("admin connection");
    assert_eq!(number(&mut admin, &format!("SELECT pg_terminate_backend({pid})::int::bigint AS n")).unwrap(), 1);
    // The thread learns of the termination from the next statement on that connection, which
    // fails; the work after it runs on a new connection.
    let after = database.read(|c| number(c, "SELECT pg_backend_pid()::bigint AS n")).await;
    assert!(after.is_err(), "the statement on the terminated connection fails: {after:?}");
    let fresh = database.read(|c| number(c, "SELECT pg_backend_pid()::bigint AS n")).await.expect("read on a new connection");
    assert_ne!(fresh, pid, "a new server process serves the connection");
}

#[actix_web::test]
async fn work_that_panics_leaves_the_connection_threads_working() {
    let db = test_db!(Backend::Postgres);
    let database = one_thread(&db, Duration::from_secs(10));
    let panicked = database.read(|_| -> Result<i64, DbError> { panic!("a bug in one request's work") }).await;
    assert!(matches!(panicked, Err(DbError::Cancelled)), "{panicked:?}");
    let next = database.read(|c| number(c, "SELECT 42::bigint AS n")).await;
    assert_eq!(next.expect("the one thread still serves"), 42);
}

#[actix_web::test]
async fn work_that_waits_too_long_for_a_connection_fails_with_a_clear_error() {
    let db = test_db!(Backend::Postgres);
    let database = one_thread(&db, Duration::from_millis(300));
    let slow = {
        let database = database.clone();
        actix_web::rt::spawn(async move { database.read(|c| number(c, "SELECT 0::bigint AS n FROM pg_sleep(1)")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let queued = database.read(|c| number(c, "SELECT 1::bigint AS n")).await;
    let err = queued.expect_err("the queued read gives up");
    assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no database connection was free for 300ms"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(slow.await.expect("slow task").expect("the slow read itself finishes"), 0);
    // Once the thread is free again, work runs as usual.
    assert_eq!(database.read(|c| number(c, "SELECT 7::bigint AS n")).await.expect("read"), 7);
}

#[actix_web::test]
async fn dropping_the_database_closes_its_connections() {
    let db = test_db!(Backend::Postgres);
    let database = Database::connect(&db.url, PoolOptions::default()).expect("connect");
    let reads: Vec<_> = (0..32)
        .map(|_| {
            let database = database.clone();
            actix_web::rt::spawn(async move { database.read(|c| number(c, "SELECT 0::bigint AS n FROM pg_sleep(0.05)")).await })
        })
        .collect();
    for read in reads {
        read.await.expect("task").expect("read");
    }
    assert!(connections_to(&db) >= 2, "the reads ran on several connections");
    drop(database);
    let deadline = Instant::now() + Duration::from_secs(10);
    while connections_to(&db) > 0 {
        assert!(Instant::now() < deadline, "connections still open 10 s after the Database was dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
