//! Logging: one readable line per request (tracing-actix-web span closing) plus events.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

/// Installs the global subscriber. `filter` was validated by `Settings`.
pub fn init(filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .try_init();
}

/// The root span of each request: tracing-actix-web's, but only built when it will be logged.
/// Building it works out the route pattern, a second regex match of the path, and the
/// connection info (~4% of a SCIM read's CPU), even when the log level drops it.
pub struct RequestSpan;

impl tracing_actix_web::RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        // Asked with the span's own target, so RUST_LOG filters on tracing_actix_web still apply.
        if tracing::enabled!(target: "tracing_actix_web::root_span_builder", tracing::Level::INFO) {
            tracing_actix_web::DefaultRootSpanBuilder::on_request_start(request)
        } else {
            tracing::Span::none()
        }
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
