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

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use diesel::r2d2::R2D2Connection;

use super::{AnyConnection, DbError, establish};

/// A unit of work: given a connection, or the reason there is none.
pub(super) type Job = Box<dyn FnOnce(Result<&mut AnyConnection, DbError>) + Send>;

/// The queue's handle; the threads finish their jobs and stop once every clone is dropped.
#[derive(Clone)]
pub(super) struct ConnectionThreads {
    owner: Arc<Owner>,
}

/// Dropped with the last handle: tells the threads to stop.
struct Owner {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    ready: Condvar,
    url: String,
    /// A job still queued after this long fails instead of waiting on (the pool's timeout).
    wait_limit: Duration,
}

struct State {
    jobs: VecDeque<(Instant, Job)>,
    /// Threads waiting for a job: a submit only signals when one is (a signal is a system call).
    idle: usize,
    closed: bool,
}

impl ConnectionThreads {
    /// Connects once (a wrong URL fails here, at start-up, with the driver's message) and
    /// starts `size` threads; the first keeps that connection, the others connect at their
    /// first job.
    pub(super) fn start(url: &str, size: u32, wait_limit: Duration) -> anyhow::Result<ConnectionThreads> {
        let first = establish(url)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State { jobs: VecDeque::new(), idle: 0, closed: false }),
            ready: Condvar::new(),
            url: url.to_owned(),
            wait_limit,
        });
        let mut first = Some(first);
        for n in 0..size.max(1) {
            let shared = Arc::clone(&shared);
            let conn = first.take();
            std::thread::Builder::new().name(format!("postgres-{n}")).spawn(move || serve(&shared, conn))?;
        }
        Ok(ConnectionThreads { owner: Arc::new(Owner { shared }) })
    }

    /// Queues a job; `false` once the threads are stopping.
    pub(super) fn submit(&self, job: Job) -> bool {
        let shared = &self.owner.shared;
        let mut state = lock(&shared.state);
        if state.closed {
            return false;
        }
        state.jobs.push_back((Instant::now(), job));
        let wake = state.idle > 0;
        drop(state);
        if wake {
            shared.ready.notify_one();
        }
        true
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
    while let Some((queued, job)) = next_job(shared) {
        if queued.elapsed() > shared.wait_limit {
            job(Err(DbError::Unavailable(format!("no database connection was free for {:?}", shared.wait_limit))));
            continue;
        }
        if conn.is_none() {
            match establish(&shared.url) {
                Ok(fresh) => conn = Some(fresh),
                Err(err) => {
                    job(Err(DbError::Unavailable(format!("could not connect to the database: {err}"))));
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        // A panicking job leaves the connection's transaction state unknown, and a broken
        // connection answers nothing again: both are dropped (PostgreSQL rolls back what was
        // open) and the next job connects anew. A panicked job's caller sees its answer
        // channel closed, i.e. `DbError::Cancelled`.
        let healthy = catch_unwind(AssertUnwindSafe(|| job(Ok(&mut *c)))).is_ok() && !c.is_broken();
        super::epoch::finished();
        if !healthy {
            tracing::warn!("a database connection broke or its work panicked; it is replaced");
            conn = None;
        }
    }
}

/// Waits for the next job; `None` when the queue is closed and drained.
fn next_job(shared: &Shared) -> Option<(Instant, Job)> {
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
