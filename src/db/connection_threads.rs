//! PostgreSQL's connections, each owned by a thread that runs the queued database work.
//!
//! diesel's PostgreSQL connection is synchronous, so the work must leave the async workers.
//! Through tokio's blocking pool and an r2d2 pool every request woke a pool thread, often
//! parked it again until a connection was free, and put it to sleep once done: in a VM each
//! of those thread switches costs more than the request's own code (perf during an Entra
//! cycle: ~40% of the server's CPU in switching and wake-ups). Here `size` threads own a
//! connection each and take jobs from one queue: under load a thread goes from one job
//! straight to the next, so a request costs its round trip to PostgreSQL and the wake-up of
//! the worker that awaits the answer.
//!
//! A job that no thread has started within the wait limit is given up by its caller
//! (`DbError::Unavailable`) and never runs; once started it runs to its end, as a statement
//! on a pooled connection did. A thread whose connection broke connects again for its next
//! job; if that fails, the job fails at once with the driver's message (Entra retries).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use diesel::r2d2::R2D2Connection;

use super::{AnyConnection, DbError, establish};

/// A unit of work: given a connection, or the reason there is none.
pub(super) type Job = Box<dyn FnOnce(Result<&mut AnyConnection, DbError>) + Send>;

/// Whether a queued job may still start: its caller and the thread that takes it race to
/// move it out of `QUEUED`, so a job runs only if its caller is still waiting for it.
#[derive(Clone, Default)]
pub(super) struct Claim(Arc<AtomicU8>);

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const ABANDONED: u8 = 2;

impl Claim {
    /// The thread's side: `true` when the job may run.
    fn start(&self) -> bool {
        self.0.compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// The caller's side, when its wait limit is up: `true` when the job will never run.
    pub(super) fn abandon(&self) -> bool {
        self.0.compare_exchange(QUEUED, ABANDONED, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }
}

/// The queue's handle; the threads finish their jobs and stop once every clone is dropped.
#[derive(Clone)]
pub(super) struct ConnectionThreads {
    owner: Arc<Owner>,
    wait_limit: Duration,
}

/// Dropped with the last handle: tells the threads to stop.
struct Owner {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    url: String,
}

struct State {
    jobs: VecDeque<(Claim, Job)>,
    /// Threads waiting for a job: a submit only signals when one is (a signal is a system call).
    idle: usize,
    closed: bool,
}

impl ConnectionThreads {
    /// Connects once (a wrong URL fails here, at start-up, with the driver's message) and
    /// starts `size` threads; the first keeps that connection, the others connect at their
    /// first job. `wait_limit` is how long a caller waits for a thread to start its job.
    pub(super) fn start(url: &str, size: u32, wait_limit: Duration) -> anyhow::Result<ConnectionThreads> {
        let first = establish(url)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State { jobs: VecDeque::new(), idle: 0, closed: false }),
            ready: Condvar::new(),
            url: url.to_owned(),
        });
        // Made before any thread: should a spawn fail, dropping it stops those already started.
        let threads = ConnectionThreads { owner: Arc::new(Owner { shared: Arc::clone(&shared) }), wait_limit };
        let mut first = Some(first);
        for n in 0..size.max(1) {
            let shared = Arc::clone(&shared);
            let conn = first.take();
            std::thread::Builder::new().name(format!("postgres-{n}")).spawn(move || serve(&shared, conn))?;
        }
        Ok(threads)
    }

    /// How long a caller waits for its job to start before giving it up.
    pub(super) fn wait_limit(&self) -> Duration {
        self.wait_limit
    }

    /// Queues a job that runs only while `claim` lets it. (The threads stop only once every
    /// handle is gone, so a handle always has threads to serve it.)
    pub(super) fn submit(&self, claim: Claim, job: Job) {
        let shared = &self.owner.shared;
        let mut state = lock(&shared.state);
        state.jobs.push_back((claim, job));
        let wake = state.idle > 0;
        drop(state);
        if wake {
            shared.ready.notify_one();
        }
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.ready.notify_all();
    }
}

/// The jobs' state stays consistent whatever panics (a job runs outside the lock).
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One thread: runs jobs on its connection until the queue is closed and empty.
fn serve(shared: &Shared, mut conn: Option<AnyConnection>) {
    while let Some((claim, job)) = next_job(shared) {
        // Nothing a job does may end the thread: the jobs queued behind it would wait forever.
        // A panicking job leaves the connection's transaction state unknown, and a broken
        // connection answers nothing again: both are dropped (PostgreSQL rolls back what was
        // open) and the next job connects anew. A panicked job's caller sees its answer
        // channel closed, i.e. `DbError::Cancelled`.
        let healthy = catch_unwind(AssertUnwindSafe(|| run_job(shared, &mut conn, &claim, job))).unwrap_or(false);
        super::epoch::finished();
        if !healthy && conn.take().is_some() {
            tracing::warn!("a database connection broke or its work panicked; it is replaced");
        }
    }
}

/// Connects if need be, then runs `job` unless its caller gave it up; `false` when the
/// connection must not serve another job.
fn run_job(shared: &Shared, conn: &mut Option<AnyConnection>, claim: &Claim, job: Job) -> bool {
    // Connecting comes before the claim: a caller whose limit runs out meanwhile still
    // gets its answer (`Unavailable`) instead of waiting on a connection attempt.
    let c = match conn {
        Some(c) => c,
        None => match establish(&shared.url) {
            Ok(fresh) => conn.insert(fresh),
            Err(err) => {
                if claim.start() {
                    job(Err(DbError::Unavailable(format!("could not connect to the database: {err}"))));
                }
                return true;
            }
        },
    };
    if !claim.start() {
        return true;
    }
    job(Ok(&mut *c));
    !c.is_broken()
}

/// Waits for the next job; `None` when the queue is closed and drained.
fn next_job(shared: &Shared) -> Option<(Claim, Job)> {
    let mut state = lock(&shared.state);
    loop {
        if let Some(job) = state.jobs.pop_front() {
            return Some(job);
        }
        if state.closed {
            return None;
        }
        state.idle += 1;
        state = shared.ready.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        state.idle -= 1;
    }
}
