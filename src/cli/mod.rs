//! Command line: `entrada [serve|migrate|staff|company|admin|passle|token|demo]`.
//!
//! Exit codes: 0 success, 1 the command failed (unknown company, duplicate, …), 2 bad usage or
//! configuration. Every failure is one line on stderr. Secrets (passwords) are read from
//! standard input, never from arguments; no prompt is shown when stdin is not a terminal.

mod args;
mod commands;
mod input;

use std::process::ExitCode;

pub use args::{Command, parse};

use crate::config::Settings;

pub const USAGE: &str = "\
Usage: entrada [COMMAND]

Commands:
  serve                                     run the web server (the default)
  migrate                                   apply database migrations and exit
  staff create --email E                    create a Client Success staff account (password on stdin)
  company create --shortcode S --name N [--enable-entra] [--enable-groups]
                                            create a company
  admin create --company S --email E        create a company admin account (password on stdin)
  passle create --company S --name N        create a Passle for a company
  token generate --company S                print the Tenant URL and a new SCIM secret token
                                            (the previous token stops working within a second)
  demo                                      create a demo company with staff and admin sign-ins
  help                                      show this text

Configuration comes from the environment or .env: DATABASE_URL, BIND, PUBLIC_URL, RUST_LOG.";

/// Parses arguments, reads settings and runs the command.
pub fn main(args: &[String]) -> ExitCode {
    let command = match parse(args) {
        Ok(command) => command,
        Err(message) => {
            eprintln!("entrada: {message}\nRun `entrada help` for usage.");
            return ExitCode::from(2);
        }
    };
    if let Command::Help = command {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("entrada: configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&settings.log_filter);
    match commands::run(command, &settings) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, even when a driver's message has several (libpq's do).
            let message = format!("{err:#}").split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("entrada: {message}");
            ExitCode::from(1)
        }
    }
}
