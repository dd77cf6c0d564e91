//! Fuzz target: see `pgbatch_fuzz::params`.
fn main() {
    afl::fuzz!(|data: &[u8]| pgbatch_fuzz::params(data));
}
