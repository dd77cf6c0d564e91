//! Fuzz target: see `pgbatch_fuzz::job`.
fn main() {
    afl::fuzz!(|data: &[u8]| pgbatch_fuzz::job(data));
}
