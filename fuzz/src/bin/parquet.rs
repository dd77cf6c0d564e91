//! Fuzz target: see `pgbatch_fuzz::parquet`.
fn main() {
    afl::fuzz!(|data: &[u8]| pgbatch_fuzz::parquet(data));
}
