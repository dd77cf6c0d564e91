//! Fuzz target: see `pgbatch_fuzz::dump`.
fn main() {
    afl::fuzz!(|data: &[u8]| pgbatch_fuzz::dump(data));
}
