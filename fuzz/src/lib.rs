//! The fuzz targets' bodies: bytes through pgbatch's own entry points, as a load or a
//! request meets them, with no database (the catalog is made up from the input itself).
//! The one property checked: whatever the bytes, the answer is a value or an error of the
//! input's kind (bad data, 65; configuration, 78; a 4xx for a request), never a panic and
//! never an internal error (70). A panic that leaves a body aborts the process, which AFL
//! records as a crash; one that pgbatch catches and reports (`fuzz_nohook!`: AFL's own hook
//! would abort on it first) is judged by the error it becomes.

use std::io::Write as _;
use std::path::Path;

use pgbatch::db::catalog::{Column, PgType};
use pgbatch::error::exit;
use pgbatch::job::{FormatKind, Spec};
use pgbatch::pipeline::encode::Encoder;
use pgbatch::pipeline::load::open_bound;
use pgbatch::pipeline::source::{self, Place, SourceFile};

/// The types a made-up column may have, picked by its name.
const TYPES: [PgType; 15] = [
    PgType::Text,
    PgType::Int8,
    PgType::Float8,
    PgType::Date,
    PgType::Timestamptz,
    PgType::Numeric,
    PgType::Bool,
    PgType::Int4,
    PgType::Int2,
    PgType::Float4,
    PgType::Varchar,
    PgType::Bpchar,
    PgType::Timestamp,
    PgType::Json,
    PgType::Jsonb,
];

/// A nullable column of `name`, its type picked by the name's bytes (so that a mutation
/// of a header changes what its values are read as).
fn column(name: &str) -> Column {
    let pick = name
        .bytes()
        .fold(0usize, |sum, b| sum.wrapping_mul(31).wrapping_add(usize::from(b)));
    let ty = TYPES[pick % TYPES.len()];
    let (declared, typmod) = match ty {
        PgType::Varchar => ("character varying(12)".to_owned(), 16),
        PgType::Bpchar => ("character(3)".to_owned(), 7),
        other => (other.name().to_owned(), -1),
    };
    Column {
        name: name.to_owned(),
        ty: Some(ty),
        declared,
        typmod,
        not_null: false,
        generated: false,
        has_default: false,
    }
}

/// Asserts that `result` is a value or an error of the input's kind.
fn of_the_input<T>(result: pgbatch::Result<T>) {
    if let Err(error) = result {
        let code = error.exit_code();
        assert!(
            code == exit::DATA || code == exit::CONFIG,
            "an input's error must be bad data (65) or configuration (78), not {code}: {error}"
        );
    }
}

/// `data` as a file of `format` read by the job `spec` (TOML) over a table whose columns
/// are the file's own fields: opened, bound, every chunk conformed and encoded for COPY.
fn through_a_load(data: &[u8], suffix: &str, format: FormatKind, spec: &str) {
    let Ok(mut file) = tempfile::Builder::new().suffix(suffix).tempfile() else {
        return; // no temp file: nothing to learn
    };
    if file.write_all(data).is_err() {
        return;
    }
    let path = file.path().to_path_buf();
    let spec = Spec::parse(spec.to_owned(), Path::new("fuzz.toml")).expect("the target's own job parses");
    let source_file = SourceFile {
        place: Place::Local(path.clone()),
        display: path.display().to_string(),
        format,
        bytes: data.len() as u64,
        sha256: None,
        row_groups: None,
    };
    // The fields first, with the job over one column (the source options need no more).
    let probe = spec.resolve(&[column("x")]);
    let Ok(probe) = probe else {
        return of_the_input(probe);
    };
    let fields = match source::open(&source_file, &probe.read) {
        Ok(opened) => opened.fields().to_vec(),
        Err(error) => return of_the_input::<()>(Err(error)),
    };
    let catalog: Vec<Column> = fields.iter().map(|f| column(f)).collect();
    of_the_input(spec.resolve(&catalog).and_then(|job| {
        let (mut source, conformer) = open_bound(&job, &source_file)?;
        let encoder = Encoder::new(job.columns.iter().map(|c| c.ty).collect());
        let mut out = bytes::BytesMut::new();
        while let Some(chunk) = source.next_chunk()? {
            let rows = conformer.conform(&chunk)?;
            out.clear();
            encoder
                .encode(&rows.batch, &mut out)
                .map_err(|error| conformer.encode_error(&chunk, &error))?;
        }
        Ok(())
    }));
}

/// Bytes as a CSV file with a header, through a load.
pub fn csv(data: &[u8]) {
    through_a_load(
        data,
        ".csv",
        FormatKind::Csv,
        "table = \"t\"\n[source]\nformat = \"csv\"\n",
    );
}

/// Bytes as a Parquet file, through a load.
pub fn parquet(data: &[u8]) {
    through_a_load(
        data,
        ".parquet",
        FormatKind::Parquet,
        "table = \"t\"\n[source]\nformat = \"parquet\"\n",
    );
}

/// Bytes as a `pg_dump` plain-format file, its `ports` COPY block through a load.
pub fn dump(data: &[u8]) {
    through_a_load(
        data,
        ".sql",
        FormatKind::PgDump,
        "table = \"t\"\n[source]\nformat = \"pg_dump\"\ndump_table = \"ports\"\n",
    );
}

/// Bytes as a job spec (TOML), resolved against a table with a column of each name its
/// `[columns]` gives (and a `v`).
pub fn job(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let spec = Spec::parse(text.to_owned(), Path::new("jobs/fuzz.toml"));
    let Ok(spec) = spec else {
        return of_the_input(spec);
    };
    let catalog: Vec<Column> = spec
        .raw
        .columns
        .keys()
        .map(String::as_str)
        .chain(["v"])
        .map(column)
        .collect();
    of_the_input(spec.resolve(&catalog));
}

/// The routes whose parameters the `params` target reads: every kind of parameter, a
/// range, a list, a path segment.
const ROUTES: [&str; 3] = ["rates.sql", "v1_search.sql", "v1_account_messages.sql"];

/// Bytes as a request's query string (the first byte picks the route; for a route with a
/// path segment, the part before the first `?` is its value), read as the handler reads
/// it: the values, or a 4xx.
pub fn params(data: &[u8]) {
    use std::sync::OnceLock;
    static PARSED: OnceLock<Vec<pgbatch::api::route::Route>> = OnceLock::new();
    let routes = PARSED.get_or_init(|| {
        // From fuzz/ (the fuzz crate) or from the repository (its tests).
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let dir = [manifest.join("sql/queries"), manifest.join("../sql/queries")]
            .into_iter()
            .find(|dir| dir.is_dir())
            .expect("the repository's sql/queries");
        ROUTES
            .iter()
            .map(|name| {
                let file = dir.join(name);
                let text = std::fs::read_to_string(&file).expect("the route's query file");
                pgbatch::api::route::parse(&dir, &file, &text).expect("the route's query file parses")
            })
            .collect()
    });
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let route = &routes[usize::from(first) % routes.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (segment, query) = text.split_once('?').unwrap_or(("", text));
    let path: Vec<(String, String)> = route
        .path_params
        .iter()
        .map(|&p| (route.params[p].name.clone(), segment.to_owned()))
        .collect();
    // As axum's `Query` decodes it; a query string it refuses is a 400 there.
    let Ok(pairs) = serde_urlencoded::from_str::<Vec<(String, String)>>(query) else {
        return;
    };
    if let Err((status, detail)) = pgbatch::api::read_parameters(route, &path, &pairs) {
        assert!(
            (400..500).contains(&status),
            "a request's parameters answered {status}: {detail}"
        );
    }
}
