//! Reading a secret from standard input: prompted (without echo) on a terminal, a plain line
//! otherwise, so scripts can pipe it in.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

pub fn read_password(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        set_echo(false);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if interactive {
        set_echo(true);
        eprintln!();
    }
    read?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        anyhow::bail!("no password given on standard input");
    }
    Ok(password)
}

/// Best effort: `stty` is on every Unix terminal; if it is missing the password echoes.
fn set_echo(on: bool) {
    let _ = Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(Stdio::inherit())
        .status();
}
