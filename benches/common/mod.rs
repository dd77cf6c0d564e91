//! What the end-to-end benches share.

use std::process::Command;
use std::time::Instant;

/// Runs the `pgbatch` binary against `url`; panics with its stderr if it fails. Returns
/// the seconds it took.
pub fn pgbatch(url: &str, args: &[&str]) -> f64 {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_pgbatch"))
        .args(args)
        .env("DATABASE_URL", url)
        .env("PGBATCH_LOG", "warn")
        .output()
        .expect("pgbatch runs");
    assert!(
        out.status.success(),
        "pgbatch {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    started.elapsed().as_secs_f64()
}
