//! Fuzz target: see `pgbatch_fuzz::dump`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| pgbatch_fuzz::dump(data));
}
