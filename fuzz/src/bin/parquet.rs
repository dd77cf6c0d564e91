//! Fuzz target: see `pgbatch_fuzz::parquet`.
fn main() {
    afl::fuzz_nohook!(|data: &[u8]| pgbatch_fuzz::parquet(data));
}
