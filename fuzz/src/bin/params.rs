//! Fuzz target: see `pgbatch_fuzz::params`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| pgbatch_fuzz::params(data));
}
