//! Fuzz target: see `pgbatch_fuzz::job`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| pgbatch_fuzz::job(data));
}
