use std::process::ExitCode;

fn main() -> ExitCode {
    // A missing .env is normal; variables already set win over the file.
    let _ = dotenvy::dotenv();
    let args: Vec<String> = std::env::args().skip(1).collect();
    entrada::cli::main(&args)
}
