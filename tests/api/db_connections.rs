//! PostgreSQL's connection threads (`Database::read` / `write` there): a connection that
//! breaks is replaced, work that panics takes only itself down, work that cannot get a
//! connection in time fails at its limit with a clear error and never runs, and a dropped
//! `Database` closes its connections.

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

/// Runs a statement that returns no rows on a PostgreSQL connection.
fn execute(conn: &mut AnyConnection, sql: &str) -> Result<(), DbError> {
    let AnyConnection::Postgresql(c) = conn else { panic!("a PostgreSQL test") };
    diesel::sql_query(sql).execute(c)?;
    Ok(())
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

/// Bounds a wait that would hang if the feature under test were broken.
async fn within<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future).await.unwrap_or_else(|_| panic!("{what}: no answer within 10 s"))
}

fn pid(conn: &mut AnyConnection) -> Result<i64, DbError> {
    number(conn, "SELECT pg_backend_pid()::bigint AS n")
}

#[actix_web::test]
async fn work_that_panics_in_a_transaction_rolls_back_and_leaves_the_threads_working() {
    let db = test_db!(Backend::Postgres);
    let database = one_thread(&db, Duration::from_secs(10));
    within("setup", database.write(|c| execute(c, "CREATE TABLE marks (note TEXT)"))).await.expect("create table");
    let before = within("pid", database.read(pid)).await.expect("pid");
    let panicked = within(
        "the panicking write",
        database.write(|c| -> Result<(), DbError> {
            execute(c, "INSERT INTO marks VALUES ('written before the panic')")?;
            panic!("a bug in one request's work")
        }),
    )
    .await;
    assert!(matches!(panicked, Err(DbError::Cancelled)), "{panicked:?}");
    let marks = within("count", database.read(|c| number(c, "SELECT count(*) AS n FROM marks"))).await;
    assert_eq!(marks.expect("the one thread still serves"), 0, "the panicked write's insert is rolled back");
    let after = within("pid", database.read(pid)).await.expect("pid");
    assert_ne!(after, before, "the connection the panic left in a transaction was replaced");
}

#[actix_web::test]
async fn work_that_waits_too_long_for_a_connection_fails_at_its_limit_and_never_runs() {
    let db = test_db!(Backend::Postgres);
    let database = one_thread(&db, Duration::from_millis(300));
    let slow = {
        let database = database.clone();
        actix_web::rt::spawn(async move { database.read(|c| number(c, "SELECT 0::bigint AS n FROM pg_sleep(1.5)")).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let queued = database
        .write(|c| execute(c, "CREATE TABLE ran_too_late (x INT)"))
        .await;
    let waited = started.elapsed();
    let err = queued.expect_err("the queued write gives up");
    assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
    assert!(err.to_string().contains("no database connection was free for 300ms"), "{err}");
    assert!(waited < Duration::from_millis(900), "the caller gave up at its limit, not when the slow read ended: {waited:?}");
    // The slow read had started: it runs to its end despite the limit.
    assert_eq!(within("slow read", slow).await.expect("slow task").expect("the slow read itself finishes"), 0);
    // The given-up write never runs, not even once the thread is free.
    let exists = within("regclass", database.read(|c| number(c, "SELECT count(*) AS n FROM pg_class WHERE relname = 'ran_too_late'"))).await;
    assert_eq!(exists.expect("read"), 0);
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
