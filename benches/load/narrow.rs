//! The narrow shape: 20,000,000 rows of three columns (station, time, value), the long
//! Beijing rows five times over with their times moved on by five years a copy. Narrow rows
//! cost the server most per byte (a tuple's header and a COPY row's framing for 3 fields):
//! here the per-row costs of every loader show.

use std::path::Path;

use crate::common::psql;
use crate::shape::{Shape, run_shape};
use crate::{path, python};

const ROWS: u64 = 20_000_000;

const TABLE: &str = "CREATE TABLE {t} (station text NOT NULL, time timestamptz NOT NULL, value double precision) \
     WITH (autovacuum_enabled = false)";

/// Sets up the narrow shape from the long rows in `long_table` and runs its loads in rounds
/// (pgloader once); prints the table of ratios.
pub fn run(repo: &Path, work: &Path, url: &str, long_table: &str) {
    let csv = work.join("narrow.csv");
    write_csv(url, long_table, &csv);
    let parquet = work.join("narrow.parquet");
    python(&[
        path(&repo.join("benches/peers/to_parquet.py")),
        path(&csv),
        path(&parquet),
        "narrow",
    ]);
    let shape = Shape {
        table: TABLE,
        title: "load/narrow (3 columns)",
        prefix: "n_",
        rows: ROWS,
        csv: &csv,
        parquet: &parquet,
        csv_source: "header = false\nfields = [\"station\", \"time\", \"value\"]\n",
        csv_options: "FORMAT csv",
        fields: &["station", "time", "value"],
        header: false,
        null: None,
    };
    run_shape(repo, work, url, &shape);
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
