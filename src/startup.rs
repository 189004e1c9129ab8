//! Builds the application: database, migrations, first-run hints, HTTP server.

use std::net::TcpListener;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::config::{PublicUrl, Settings};
use crate::db::{Database, PoolOptions};
use crate::state::AppState;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects, migrates and binds; the server starts when [`Application::run_until_stopped`]
    /// is awaited. `settings.bind` may use port 0 (tests).
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.bind)
            .map_err(|e| anyhow::anyhow!("cannot listen on {} (BIND): {e}", settings.bind))?;
        let local = listener.local_addr()?;
        let public_url =
            if settings.public_url_from_bind { PublicUrl::from_bind(local) } else { settings.public_url.clone() };

        let (db_settings, hint_url) = (settings.clone(), public_url.clone());
        let db = actix_web::web::block(move || open_database(&db_settings, &hint_url))
            .await
            .map_err(|e| anyhow::anyhow!("start-up task failed: {e}"))??;

        let port = local.port();
        let state = AppState { db, public_url, scim_last_used: Default::default(), scim_tokens: Default::default(), recent_people: Default::default() };
        let server = run(listener, state, settings.pool_size)?;
        Ok(Application { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Makes SIGTERM and SIGINT stop the server gracefully (in-flight requests finish). The
    /// handlers are installed before this returns, so a signal sent as soon as the server
    /// says it is listening is never lost.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let handle = self.server.handle();
        actix_web::rt::spawn(async move {
            let term = std::pin::pin!(terminate.recv());
            let int = std::pin::pin!(interrupt.recv());
            futures_util::future::select(term, int).await;
            tracing::info!("shutdown signal received; finishing in-flight requests");
            handle.stop(true).await;
        });
        Ok(())
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Applies pending migrations (idempotent) and prints the first-run hint, on one connection
/// of its own, then opens the pools and (SQLite) the writer thread: start-up's writes are
/// done before the writer, the only other write path, exists.
pub fn open_database(settings: &Settings, public_url: &PublicUrl) -> anyhow::Result<Database> {
    let cannot_open = |e: anyhow::Error| anyhow::anyhow!("cannot open the database (DATABASE_URL): {e}");
    let mut conn = Database::connect_single(&settings.database_url).map_err(cannot_open)?;
    let applied = crate::db::run_migrations(&mut conn)?;
    if applied > 0 {
        tracing::info!(applied, backend = crate::db::Backend::from_url(&settings.database_url)?.name(), "database migrations applied");
    }
    first_run_hint(&mut conn, public_url)?;
    drop(conn);
    let options = PoolOptions { max_connections: settings.pool_size, ..PoolOptions::default() };
    Database::connect(&settings.database_url, options).map_err(cannot_open)
}

/// On a database without any staff account, prints how to get started (once per start).
fn first_run_hint(conn: &mut crate::db::AnyConnection, public_url: &PublicUrl) -> anyhow::Result<()> {
    use crate::models::account::Account;
    use crate::models::setup_token::SetupToken;
    if Account::staff_exists(conn)? {
        return Ok(());
    }
    let secret = SetupToken::issue(conn)?;
    eprintln!(
        "\nWelcome to Entrada. No staff account exists yet. To get started, either\n  \
         open {}/setup/{} to create the first staff account (the link works once), or\n  \
         run `entrada demo` for a demo company with ready-made sign-ins.\n",
        public_url.as_str(),
        secret.expose()
    );
    Ok(())
}

fn run(listener: TcpListener, state: AppState, pool_size: u32) -> anyhow::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .configure(crate::routes::configure)
            .wrap(TracingLogger::<crate::telemetry::RequestSpan>::new())
    })
    .shutdown_timeout(10)
    // Blocking threads run SQLite's reads and password hashing (PostgreSQL's work has its own
    // connection threads); beyond the pool's size they would only wait for a connection.
    // Capping them keeps threads (and their malloc arenas) few: peak RSS under load fell by half.
    .worker_max_blocking_threads(pool_size as usize + 2)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
