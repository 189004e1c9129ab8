//! Bearer-token authentication of SCIM requests: one SHA-256 and one indexed lookup per
//! request (no Argon2: tokens are 131-bit random secrets), so Entra's thousands of requests
//! per cycle cost nothing noticeable; recent checks are remembered for a second
//! (`token_cache`). Rotation or revocation through this server takes effect at the next request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

use super::error::ScimError;
use super::token_cache::{LookupStart, TokenCache};
use crate::db::{AnyConnection, DbError};
use crate::domain::{Secret, constant_time_eq};
use crate::models::Company;
use crate::models::scim_token::ScimToken;
use crate::state::AppState;

/// The authenticated company of a SCIM request.
pub struct ScimContext {
    pub company: Company,
    pub base_url: String,
}

/// Remembers when each token's `last_used_at` was last written, so it is written at most once
/// a minute per token instead of on every request.
#[derive(Default)]
pub struct LastUsedThrottle(Mutex<HashMap<i64, Instant>>);

const LAST_USED_EVERY: Duration = Duration::from_secs(60);

impl LastUsedThrottle {
    fn due(&self, token_id: i64) -> bool {
        let Ok(mut seen) = self.0.lock() else { return false };
        let now = Instant::now();
        match seen.get(&token_id) {
            Some(at) if now.duration_since(*at) < LAST_USED_EVERY => false,
            _ => {
                seen.insert(token_id, now);
                true
            }
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<Secret> {
    let header = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| Secret::new(token.to_owned()))
}

enum Lookup {
    Live(ScimToken, Company),
    /// The token was revoked and the company has no live token: the admin disconnected.
    Disconnected,
    Unknown,
}

fn lookup(conn: &mut AnyConnection, tokens: &TokenCache, digest: &str) -> Result<Lookup, DbError> {
    if let Some((token, company)) = tokens.get(digest) {
        return Ok(Lookup::Live(token, company));
    }
    let start = LookupStart::now();
    if let Some((token, company)) = ScimToken::find_live_by_digest(conn, digest)? {
        tokens.put(digest, start, &token, &company);
        return Ok(Lookup::Live(token, company));
    }
    if let Some(company) = ScimToken::company_of_revoked(conn, digest)?
        && ScimToken::current(conn, company.company_id())?.is_none()
    {
        return Ok(Lookup::Disconnected);
    }
    Ok(Lookup::Unknown)
}

/// What a request needs of its company beyond a live token and the Entra ID module.
#[derive(Clone, Copy)]
enum Needs {
    Users,
    /// `/Groups`: group provisioning must be on too.
    Groups,
}

/// Checks the token against the URL's company on `conn`: the live token and its company.
/// Refusals here are the company's settings, not its data: they are never recorded.
fn authorize(conn: &mut AnyConnection, tokens: &TokenCache, digest: &str, shortcode: &str, needs: Needs) -> Result<(ScimToken, Company), ScimError> {
    let (token, company) = match lookup(conn, tokens, digest)? {
        Lookup::Live(token, company) => (token, company),
        Lookup::Disconnected => {
            return Err(ScimError::forbidden(
                "This company's Entra ID integration is disconnected: a company admin must generate a new secret token on Manage Entra ID.",
            ));
        }
        Lookup::Unknown => return Err(ScimError::unauthorized()),
    };
    // A token only works for its own company; another company's URL answers like a wrong token.
    if !constant_time_eq(company.shortcode.as_bytes(), shortcode.as_bytes()) {
        return Err(ScimError::unauthorized());
    }
    if !company.entra_enabled {
        return Err(ScimError::forbidden(
            "The Entra ID module is not enabled for this company; ask Client Success to enable it.",
        ));
    }
    if matches!(needs, Needs::Groups) && !company.groups_enabled {
        return Err(ScimError::forbidden("Group provisioning is not enabled for this company; ask Client Success to enable it."));
    }
    Ok((token, company))
}

/// After a successful check: records the token's use (throttled, in the background).
fn admit(state: &AppState, token: ScimToken, company: Company) -> ScimContext {
    if state.scim_last_used.due(token.id) {
        let db = state.db.clone();
        actix_web::rt::spawn(async move {
            let at = crate::models::now();
            if let Err(err) = db.write(move |conn| ScimToken::touch(conn, token.id, at).map_err(DbError::from)).await {
                tracing::warn!(error = %err, "could not record the token's last use");
            }
        });
    }
    let base_url = state.public_url.tenant_url(&company.shortcode);
    ScimContext { company, base_url }
}

async fn authenticate(req: HttpRequest) -> Result<ScimContext, ScimError> {
    let (ctx, ()) = ScimCredentials::of(&req)?.read(|_, _| Ok(())).await?;
    Ok(ctx)
}

/// A SCIM request's credentials, not yet checked: for Entra's most frequent reads the check
/// runs inside the handler's own database read, one blocking-pool hop instead of two.
pub struct ScimCredentials {
    state: web::Data<AppState>,
    digest: String,
    shortcode: String,
    needs: Needs,
}

impl ScimCredentials {
    fn of(req: &HttpRequest) -> Result<ScimCredentials, ScimError> {
        let state = req.app_data::<web::Data<AppState>>().ok_or_else(ScimError::internal)?.clone();
        let shortcode = req.match_info().get("shortcode").unwrap_or_default().to_owned();
        let digest = bearer(req).ok_or_else(ScimError::unauthorized)?.digest();
        Ok(ScimCredentials { state, digest, shortcode, needs: Needs::Users })
    }

    /// For `/Groups`: the check also requires group provisioning to be on (403 otherwise,
    /// before anything else about the request is looked at, and recorded nowhere).
    pub fn for_groups(self) -> ScimCredentials {
        ScimCredentials { needs: Needs::Groups, ..self }
    }

    /// The company's SCIM base URL, as the request names it (only a request whose token
    /// belongs to this shortcode gets an answer).
    pub fn base_url(&self) -> String {
        self.state.public_url.tenant_url(&self.shortcode)
    }

    /// People just read, for the write that follows (see `recent_people`).
    pub fn recent_people(&self) -> std::sync::Arc<super::recent_people::RecentPeople> {
        self.state.recent_people.clone()
    }

    /// The credentials check, to run first in a request's database work.
    fn check(&self) -> impl FnOnce(&mut AnyConnection) -> Result<(ScimToken, Company), ScimError> + Send + 'static {
        let (digest, shortcode, needs) = (self.digest.clone(), self.shortcode.clone(), self.needs);
        let tokens = self.state.scim_tokens.clone();
        move |conn| authorize(conn, &tokens, &digest, &shortcode, needs)
    }

    /// Checks the credentials, then runs `work` for the company, on one read connection.
    /// Nothing of `work` runs for a request that fails the check.
    pub async fn read<T, F>(&self, work: F) -> Result<(ScimContext, T), ScimError>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        self.read_as(ReadSize::Query, work).await
    }

    /// [`read`](Self::read) for work that is a few index lookups: see [`Database::read_lookup`].
    pub async fn read_lookup<T, F>(&self, work: F) -> Result<(ScimContext, T), ScimError>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        self.read_as(ReadSize::Lookup, work).await
    }

    async fn read_as<T, F>(&self, size: ReadSize, work: F) -> Result<(ScimContext, T), ScimError>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        let check = self.check();
        let job = move |conn: &mut AnyConnection| {
            let (token, company) = check(conn)?;
            let value = work(conn, &company)?;
            Ok::<_, ScimError>((token, company, value))
        };
        let (token, company, value) = match size {
            ReadSize::Query => self.state.db.read(job).await?,
            ReadSize::Lookup => self.state.db.read_lookup(job).await?,
        };
        Ok((admit(&self.state, token, company), value))
    }
}

/// How much a read may do: a few index lookups, or any query.
#[derive(Clone, Copy)]
enum ReadSize {
    Lookup,
    Query,
}

/// Who makes a write atomic on PostgreSQL.
enum Transaction {
    /// The write runs in one transaction.
    Whole,
    /// The work: one statement, or `db::atomically`.
    OwnedByWork,
}

/// A SCIM write that did not happen.
pub enum Refusal {
    /// Before the company was known (bad token, module off, database unavailable): there is
    /// no company to record it for.
    Unattributed(ScimError),
    /// By the company's rules or data, for the handler to record in its activity log.
    Company(ScimContext, ScimError),
}

/// How a write job ended without committing its work.
enum JobError {
    Unattributed(ScimError),
    Company(Box<(ScimToken, Company)>, ScimError),
}

impl From<DbError> for JobError {
    fn from(err: DbError) -> Self {
        JobError::Unattributed(ScimError::from(err))
    }
}

impl ScimCredentials {
    /// Checks the credentials and runs `work` for the company as one write transaction: one
    /// trip to the database (on SQLite, one job of the writer thread) instead of a read for
    /// the check and then the write. Nothing of `work` runs for a request that fails the
    /// check; when `work` fails, its changes are rolled back.
    pub async fn write<T, F>(&self, work: F) -> Result<(ScimContext, T), Refusal>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        self.write_as(Transaction::Whole, work).await
    }

    /// [`write`](ScimCredentials::write) for work that writes with one statement or through
    /// `db::atomically` (see [`Database::write_autocommit`](crate::db::Database::write_autocommit)).
    pub async fn write_autocommit<T, F>(&self, work: F) -> Result<(ScimContext, T), Refusal>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        self.write_as(Transaction::OwnedByWork, work).await
    }

    async fn write_as<T, F>(&self, transaction: Transaction, work: F) -> Result<(ScimContext, T), Refusal>
    where
        F: FnOnce(&mut AnyConnection, &Company) -> Result<T, ScimError> + Send + 'static,
        T: Send + 'static,
    {
        let check = self.check();
        let job = move |conn: &mut AnyConnection| {
            let (token, company) = check(conn).map_err(JobError::Unattributed)?;
            match work(conn, &company) {
                Ok(value) => Ok((token, company, value)),
                Err(err) => Err(JobError::Company(Box::new((token, company)), err)),
            }
        };
        let outcome = match transaction {
            Transaction::Whole => self.state.db.write(job).await,
            Transaction::OwnedByWork => self.state.db.write_autocommit(job).await,
        };
        match outcome {
            Ok((token, company, value)) => Ok((admit(&self.state, token, company), value)),
            Err(JobError::Unattributed(err)) => Err(Refusal::Unattributed(err)),
            Err(JobError::Company(known, err)) => {
                let (token, company) = *known;
                Err(Refusal::Company(admit(&self.state, token, company), err))
            }
        }
    }

    /// Refuses a write that was invalid before it reached the database (unreadable body,
    /// bad attributes): checks the credentials and records the refusal with `record` in one
    /// write. A stranger gets the credentials' error and nothing is recorded.
    pub async fn refuse<F>(&self, err: ScimError, record: F) -> ScimError
    where
        F: FnOnce(&mut AnyConnection, &Company, &ScimError) -> Result<(), DbError> + Send + 'static,
    {
        let refused = err.clone();
        match self.write(move |conn, company| record(conn, company, &refused).map_err(ScimError::from)).await {
            Ok(_) => err,
            Err(Refusal::Unattributed(auth)) => auth,
            Err(Refusal::Company(_, db)) => {
                tracing::warn!(error = %db, "could not record a refused SCIM write");
                err
            }
        }
    }

    /// The error to answer for a refused write; a refusal by the company's rules is first
    /// recorded with `record` in its activity log (outside the rolled-back work, so it stays).
    pub async fn settle<F>(&self, refusal: Refusal, record: F) -> ScimError
    where
        F: FnOnce(&mut AnyConnection, &Company, &ScimError) -> Result<(), DbError> + Send + 'static,
    {
        match refusal {
            Refusal::Unattributed(err) => err,
            Refusal::Company(ctx, err) => {
                let (company, refused) = (ctx.company, err.clone());
                if let Err(db) = self.state.db.write(move |conn| record(conn, &company, &refused)).await {
                    tracing::warn!(error = %db, "could not record a refused SCIM write");
                }
                err
            }
        }
    }
}

impl FromRequest for ScimCredentials {
    type Error = ScimError;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(ScimCredentials::of(req))
    }
}

impl FromRequest for ScimContext {
    type Error = ScimError;
    type Future = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}
