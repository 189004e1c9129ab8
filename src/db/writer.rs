//! SQLite's single writer, with group commit.
//!
//! SQLite lets one connection write at a time, and most of a small write transaction's cost
//! is its COMMIT: every page the transaction touched is appended to the WAL again. So one
//! thread owns the write connection and runs the write jobs queued while the previous COMMIT
//! was under way together in one transaction, each in its own SAVEPOINT: a job that fails
//! rolls back only its own changes, and every job learns its outcome only after the shared
//! COMMIT has succeeded (a failed COMMIT fails every job of the batch). Under load this turns
//! many tiny commits into a few larger ones; alone, a job commits at once as before.
//!
//! The thread also replaces a blocking-pool hop plus a wait on a one-connection pool per write.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::time::Duration;

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};

use super::{AnyConnection, DbError, establish};

/// Most jobs in one transaction: bounds how much one failed COMMIT can take down with it.
const MAX_BATCH: usize = 64;

/// Tells a queued job how its batch's COMMIT went.
pub(super) type Delivery = Box<dyn FnOnce(Result<(), &DbError>) + Send>;
/// A write job: given the connection (inside the batch's transaction) it runs its work in a
/// savepoint and returns how to deliver the outcome; given the error that prevented the
/// batch's BEGIN, it reports that error at once.
pub(super) type Job = Box<dyn FnOnce(Result<&mut AnyConnection, &DbError>) -> Option<Delivery> + Send>;

/// WAL size (4 KiB pages) at which the writer checkpoints (SQLite's default is 1,000).
///
/// The writer's checkpoint is what lets the WAL file rewind, and it stalls every queued write
/// for two fsyncs plus whatever the background checkpointer has not copied yet: those stalls
/// are the write latency tail. Measured with the entra_cycle bench (T=20 x U=1,000, c=16,
/// with `CHECKPOINT_EVERY`): 2,000 pages -> initial cycle p99 32 ms; 5,000 -> 33-39 ms;
/// 20,000 -> 12-16 ms and 4-10% more requests/s; 50,000 -> no better than 20,000. Never
/// checkpointing on the writer gives the best tail but a WAL that grows by ~160 MB/s. The WAL
/// file stays ~80 MB.
const WRITER_CHECKPOINT_PAGES: u32 = 20_000;

/// Least time between two background checkpoints. Each copies every page changed since the
/// previous one, once however often it changed: 20 ms copies far less than 5 ms did (the
/// checkpoint thread used a quarter of a core), while the writer's checkpoint still finds
/// little left. Measured with 20,000 pages: 5 ms -> initial 3,840-4,040 req/s, incremental
/// 3,240-3,410; 20 ms -> 4,150-4,190 and 3,550-3,560, p99 12 ms; 50 ms -> about as fast but
/// with a longer worst case (max 77-83 ms against ~50).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(20);

/// The queue of the writer thread; the writer and checkpointer threads stop when every clone
/// is dropped.
#[derive(Clone)]
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Opens the write connection and the checkpoint connection to `url` and starts their
    /// threads.
    ///
    /// SQLite checkpoints inside the COMMIT that crosses 1,000 WAL pages, i.e. on the writer
    /// thread, stalling every queued write while it copies pages and syncs (measured: ~15% of
    /// the writer's time). A second connection copies committed pages in the background
    /// (PASSIVE: it never blocks the writer or readers), and the writer checkpoints only every
    /// `WRITER_CHECKPOINT_PAGES`, finding little left to copy. The writer's checkpoint must
    /// stay: only it lets the next write transaction rewind the WAL file, which otherwise
    /// grows without bound under steady writes (seen: 660 MB in one benchmark run).
    pub(super) fn start(url: &str) -> anyhow::Result<Writer> {
        let writer = open_writer(url)?;
        let checkpointer = establish(url)?;
        let url = url.to_owned();
        let (jobs, queue) = mpsc::channel::<Job>();
        // Capacity 1: "something was committed since the last checkpoint" needs no count.
        let (committed, wake) = mpsc::sync_channel::<()>(1);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(writer, queue, committed, || open_writer(&url)))?;
        std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(move || checkpoint(checkpointer, wake))?;
        Ok(Writer { jobs })
    }

    /// Queues a job; `false` when the writer thread is gone.
    pub(super) fn submit(&self, job: Job) -> bool {
        self.jobs.send(job).is_ok()
    }
}

fn open_writer(url: &str) -> anyhow::Result<AnyConnection> {
    use diesel::connection::SimpleConnection;
    let mut conn = establish(url)?;
    conn.batch_execute(&format!("PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}"))?;
    Ok(conn)
}

fn run(
    mut conn: AnyConnection,
    queue: mpsc::Receiver<Job>,
    committed: mpsc::SyncSender<()>,
    reconnect: impl Fn() -> anyhow::Result<AnyConnection>,
) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A panicking job leaves diesel's transaction state unknown: drop the connection
        // (SQLite rolls the open transaction back) and start again on a new one. The jobs of
        // the batch then see their reply channel closed, i.e. `DbError::Cancelled`.
        let healthy = match catch_unwind(AssertUnwindSafe(|| run_batch(&mut conn, batch))) {
            Ok(healthy) => healthy,
            Err(_) => {
                tracing::error!("a database write panicked; its batch was rolled back");
                false
            }
        };
        // Full means a wake-up is already pending; the checkpointer only exits with us.
        let _ = committed.try_send(());
        if !healthy {
            match reconnect() {
                Ok(fresh) => conn = fresh,
                Err(err) => {
                    tracing::error!(error = %err, "the SQLite writer could not reconnect; writes will fail");
                    return;
                }
            }
        }
    }
}

/// Copies committed WAL pages into the database file after writes, at most every
/// `CHECKPOINT_EVERY`; sleeps while nothing is written.
///
/// The thread runs at a lower priority (nice 10): its copies can wait for a moment when the
/// CPU is idle, while requests and the writer cannot. wrk POST, 7 alternating rounds: mean
/// 10,117 -> 10,616 req/s (+5%, ahead in 6 of 7). The writer's own checkpoint every
/// `WRITER_CHECKPOINT_PAGES` still bounds the WAL should this thread fall behind.
fn checkpoint(mut conn: AnyConnection, wake: mpsc::Receiver<()>) {
    use diesel::connection::SimpleConnection;
    lower_priority_of_this_thread();
    while wake.recv().is_ok() {
        if let Err(err) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)") {
            tracing::warn!(error = %err, "WAL checkpoint failed; will retry after the next write");
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

/// Nice 10 for the calling thread. Only on Linux, where a thread's nice value is its own
/// (elsewhere the same call would lower the whole process). Lowering a priority needs no
/// privilege; should it fail anyway, the thread just keeps the default.
fn lower_priority_of_this_thread() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `0` names the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

/// Runs one batch; `false` when the connection's transaction state is beyond repair.
fn run_batch(conn: &mut AnyConnection, batch: Vec<Job>) -> bool {
    // IMMEDIATE takes the write lock up front: a deferred transaction that read first could
    // not upgrade (SQLITE_BUSY_SNAPSHOT) after a CLI command wrote in between.
    if let Err(err) = begin_immediate(conn) {
        let broken = matches!(err, diesel::result::Error::BrokenTransactionManager);
        let err = DbError::Query(err);
        for job in batch {
            job(Err(&err));
        }
        return !broken;
    }
    let deliveries: Vec<Delivery> = batch.into_iter().filter_map(|job| job(Ok(&mut *conn))).collect();
    let outcome = <AnyConnection as Connection>::TransactionManager::commit_transaction(conn).map_err(DbError::Query);
    super::epoch::finished();
    let broken = matches!(outcome, Err(DbError::Query(diesel::result::Error::RollbackErrorOnCommit { .. })));
    for deliver in deliveries {
        deliver(outcome.as_ref().map(|_| ()));
    }
    !broken
}

fn begin_immediate(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    let AnyConnection::Sqlite(c) = conn else { return Err(diesel::result::Error::BrokenTransactionManager) };
    AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
}

/// Runs one job's `work` in its own savepoint of the batch's transaction: an `Err` rolls back
/// this job's changes only.
///
/// Diesel's nested `transaction` would do the same with `SAVEPOINT` text that SQLite parses
/// and prepares anew for every job (~6% of the writer's time); these three statements are
/// prepared once per connection.
pub(super) fn in_savepoint<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DbError>,
{
    step::<BeginJob>(conn).map_err(|e| E::from(DbError::Query(e)))?;
    let result = work(conn);
    let kept = result.is_ok() && step::<ReleaseJob>(conn).is_ok();
    if !kept {
        // This job's changes must not reach the COMMIT. Should SQLite refuse even that, the
        // batch cannot be trusted: the panic makes `run_batch`'s caller drop the connection,
        // which rolls the whole batch back.
        if step::<RollBackJob>(conn).and_then(|_| step::<ReleaseJob>(conn)).is_err() {
            panic!("could not roll back a failed write's savepoint");
        }
    }
    match result {
        Ok(_) if !kept => Err(E::from(DbError::Commit("its savepoint could not be released".into()))),
        other => other,
    }
}

/// Runs one of the savepoint statements on the writer's (SQLite) connection.
fn step<S: StaticSql>(conn: &mut AnyConnection) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let AnyConnection::Sqlite(c) = conn else { return Err(diesel::result::Error::BrokenTransactionManager) };
    Statement::<S>(std::marker::PhantomData).execute(c).map(|_| ())
}

/// A fixed SQL statement, identified by its type so that diesel's statement cache keeps it
/// prepared (keyed by type, nothing rendered per execution).
trait StaticSql: 'static {
    const SQL: &'static str;
}

macro_rules! static_sql {
    ($($name:ident = $sql:literal;)*) => {$(
        struct $name;
        impl StaticSql for $name {
            const SQL: &'static str = $sql;
        }
    )*};
}

static_sql! {
    BeginJob = "SAVEPOINT job";
    ReleaseJob = "RELEASE job";
    RollBackJob = "ROLLBACK TO job";
}

struct Statement<S>(std::marker::PhantomData<S>);

impl<S: StaticSql> diesel::query_builder::QueryId for Statement<S> {
    type QueryId = Statement<S>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<S: StaticSql> diesel::query_builder::QueryFragment<diesel::sqlite::Sqlite> for Statement<S> {
    fn walk_ast<'b>(&'b self, mut out: diesel::query_builder::AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> diesel::QueryResult<()> {
        out.push_sql(S::SQL);
        Ok(())
    }
}

impl<S> diesel::RunQueryDsl<diesel::SqliteConnection> for Statement<S> {}
