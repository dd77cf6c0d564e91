//! The wide shape: the Beijing files' 18 columns loaded as they are (no unpivot), the 12
//! files twelve times over, so 5,049,216 rows of four integers, twelve doubles and two texts.
//! Wide rows cost the client more per byte than long ones: this is where a client that
//! cannot keep up shows against the server's own binary COPY.

use std::io::{BufRead as _, Write as _};
use std::path::Path;

use crate::shape::{Shape, run_shape};
use crate::{path, python};

const COPIES: usize = 12;
const ROWS: u64 = 420_768 * 12;
/// The table's columns, in the CSV's order, for pgloader.
const FIELDS: [&str; 18] = [
    "no", "year", "month", "day", "hour", "pm25", "pm10", "so2", "no2", "co", "o3", "temp", "pres", "dewp", "rain",
    "wd", "wspm", "station",
];

const TABLE: &str = "CREATE TABLE {t} (no integer, year integer, month integer, day integer, hour integer, \
     pm25 double precision, pm10 double precision, so2 double precision, no2 double precision, \
     co double precision, o3 double precision, temp double precision, pres double precision, \
     dewp double precision, rain double precision, wd text, wspm double precision, station text) \
     WITH (autovacuum_enabled = false)";

/// Sets up the wide shape and runs its loads in rounds; prints the table of ratios.
pub fn run(repo: &Path, work: &Path, url: &str, files: &[String]) {
    let csv = work.join("wide.csv");
    write_csv(files, &csv);
    let parquet = work.join("wide.parquet");
    python(&[
        path(&repo.join("benches/peers/wide_to_parquet.py")),
        path(&csv),
        path(&parquet),
    ]);
    let shape = Shape {
        table: TABLE,
        title: "load/beijing wide (18 columns)",
        prefix: "w_",
        rows: ROWS,
        csv: &csv,
        parquet: &parquet,
        csv_source: "null = [\"NA\"]\n[columns.pm25]\nfrom = \"PM2.5\"\n",
        csv_options: "FORMAT csv, HEADER, NULL 'NA'",
        fields: &FIELDS,
        header: true,
        null: Some("NA"),
    };
    run_shape(repo, work, url, &shape);
}

/// The 12 files as one CSV, header once, [`COPIES`] times over.
fn write_csv(files: &[String], out: &Path) {
    let mut writer = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    for copy in 0..COPIES {
        for (i, file) in files.iter().enumerate() {
            let reader = std::io::BufReader::new(std::fs::File::open(file).unwrap());
            for (n, line) in reader.lines().enumerate() {
                if n == 0 && (copy > 0 || i > 0) {
                    continue;
                }
                writeln!(writer, "{}", line.unwrap()).unwrap();
            }
        }
    }
    writer.flush().unwrap();
}
