use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a request allocates and frees hundreds of small
/// blocks (headers, JSON values, rows, SQLite's records), and glibc's malloc and free were
/// ~20% of the server's instructions. wrk POST, alternating on one machine: 13,089 / 14,381
/// -> 18,327 / 18,714 req/s (LD_PRELOAD of the same allocator, before linking it in).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A missing .env is normal; variables already set win over the file.
    let _ = dotenvy::dotenv();
    let args: Vec<String> = std::env::args().skip(1).collect();
    entrada::cli::main(&args)
}
