//! Fuzz target: see `pgbatch_fuzz::csv`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| pgbatch_fuzz::csv(data));
}
