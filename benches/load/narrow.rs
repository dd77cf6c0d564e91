//! The narrow shape: 20,000,000 rows of three columns (station, time, value), the long
//! Beijing rows five times over with their times moved on by five years a copy. Narrow rows
//! cost the server most per byte (a tuple's header and a COPY row's framing for 3 fields):
//! here the per-row costs of every loader show.

use std::path::Path;

use crate::common::{pgbatch, psql};
use crate::shape::{Load, client_floor_load, floor_file, floor_load, jobs, once, report, rounds};
use crate::{path, pgloader, python};

const ROWS: u64 = 20_000_000;

const TABLE: &str = "CREATE TABLE {t} (station text NOT NULL, time timestamptz NOT NULL, value double precision) \
     WITH (autovacuum_enabled = false)";

/// Sets up the narrow shape from the long rows in `long_table` and runs its loads in rounds
/// (pgloader once); prints the table of ratios.
pub fn run(repo: &Path, work: &Path, url: &str, long_table: &str) {
    for t in ["n_copy", "n_pgpq", "n_floor", "n_csv", "n_pq", "n_pgloader", "n_cfloor"] {
        psql(url, &TABLE.replace("{t}", t));
    }
    let csv = work.join("narrow.csv");
    write_csv(url, long_table, &csv);
    let parquet = work.join("narrow.parquet");
    python(&[
        path(&repo.join("benches/peers/to_parquet.py")),
        path(&csv),
        path(&parquet),
        "narrow",
    ]);
    let (csv_job, pq_job) = jobs(
        work,
        "n_",
        "header = false\nfields = [\"station\", \"time\", \"value\"]\n",
    );
    pgbatch(url, &["load", path(&csv_job), path(&csv)]);
    let floor = work.join("narrow.bin");
    floor_file(url, "SELECT * FROM n_csv", &floor);
    let pgpq_script = repo.join("benches/peers/pgpq_load.py");
    let loads: [Load<'_>; 6] = [
        (
            "psql \\copy, CSV",
            "bench_n_psql",
            "n_copy",
            Box::new(|url| {
                let started = std::time::Instant::now();
                psql(url, &format!("\\copy n_copy FROM '{}' (FORMAT csv)", csv.display()));
                started.elapsed().as_secs_f64()
            }),
        ),
        (
            "pgpq + psycopg, Parquet",
            "bench_n_pgpq",
            "n_pgpq",
            Box::new(|url| {
                python(&[path(&pgpq_script), url, "n_pgpq", path(&parquet)])
                    .trim()
                    .parse()
                    .expect("the pgpq script prints its seconds")
            }),
        ),
        (
            "server COPY FROM binary file (floor)",
            "bench_n_floor",
            "n_floor",
            floor_load("n_floor", &floor),
        ),
        (
            "psql \\copy of that binary file (no client work)",
            "bench_n_cfloor",
            "n_cfloor",
            client_floor_load("n_cfloor", &floor),
        ),
        (
            "pgbatch, CSV",
            "bench_n_csv",
            "n_csv",
            Box::new(|url| pgbatch(url, &["load", "--force", path(&csv_job), path(&csv)])),
        ),
        (
            "pgbatch, Parquet",
            "bench_n_pq",
            "n_pq",
            Box::new(|url| pgbatch(url, &["load", "--force", path(&pq_job), path(&parquet)])),
        ),
    ];
    let mut medians = rounds(url, &loads, ROWS);
    let csv_file = pgloader::Csv {
        file: &csv,
        fields: &["station", "time", "value"],
        header: false,
        null: None,
    };
    let by_pgloader = pgloader::peer(work, "pgloader, CSV", "bench_n_pgloader", "n_pgloader", csv_file);
    medians.push(once(url, &by_pgloader, ROWS));
    report("load/narrow (3 columns)", ROWS, &medians);
}

/// The narrow rows as CSV: the long rows of `long_table` five times over, each copy's times
/// five years on, [`ROWS`] of them.
fn write_csv(url: &str, long_table: &str, csv: &Path) {
    psql(
        url,
        &format!(
            "\\copy (SELECT station, to_char((time + copy * interval '5 years') AT TIME ZONE 'UTC', \
             'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), value FROM generate_series(0, 4) AS copy, {long_table} \
             LIMIT {ROWS}) TO '{}' (FORMAT csv)",
            csv.display()
        ),
    );
}
