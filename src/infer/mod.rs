//! `pgbatch infer`: profiles sample files (CSV or Parquet, local or remote) with polars and
//! drafts what loads them unchanged: a migration with one column per field and a job spec
//! with the dialect, the NULL markers and the date formats found. polars is off the load
//! path (the loader stays on arrow-rs); this module is behind the default-on `infer`
//! feature.

use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use crate::error::{Error, ErrorKind, Result};
use crate::job::FormatKind;
use crate::pipeline::source::store::StoreOptions;
use crate::pipeline::source::{self, Place, SourceFile, locate};

pub mod dialect;
pub mod draft;
pub mod profile;
pub mod types;

pub use dialect::Dialect;
pub use profile::{Column, Profile};

/// The most bytes of one sample file read: a sample, not a whole landing zone.
pub const MAX_SAMPLE_BYTES: u64 = 256 << 20;

/// One sample file's bytes (decompressed).
#[derive(Debug)]
pub struct Sample {
    pub display: String,
    pub format: FormatKind,
    pub bytes: Vec<u8>,
}

/// What `infer` found and drafted.
#[derive(Debug, serde::Serialize)]
pub struct Draft {
    pub name: String,
    pub files: Vec<String>,
    /// CSV only.
    #[serde(skip)]
    pub dialect: Option<Dialect>,
    pub decimal_comma: bool,
    pub profile: Profile,
    pub migration: String,
    pub job: String,
}

/// Reads the sample files `locations` name (paths, globs, `s3://`, `https://`).
///
/// # Errors
///
/// Input missing; a file larger than [`MAX_SAMPLE_BYTES`] or of no known format
/// (configuration); a read failing.
pub async fn read(locations: &[String], base: &Path, store: &StoreOptions) -> Result<Vec<Sample>> {
    let places = locate::expand(locations, base, store).await?;
    tokio::task::spawn_blocking(move || places.into_iter().map(read_place).collect())
        .await
        .map_err(|error| Error::from(ErrorKind::Internal(format!("reading the samples: {error}"))))?
}

fn read_error(display: &str, source: std::io::Error) -> Error {
    ErrorKind::Read {
        path: display.into(),
        source,
    }
    .into()
}

fn read_place(place: Place) -> Result<Sample> {
    let display = place.display();
    let format = FormatKind::from_path(&display)
        .filter(|f| *f != FormatKind::PgDump)
        .ok_or_else(|| {
            Error::config(format!(
                "{display}: infer reads CSV and Parquet files (.csv, .tsv, .txt, .parquet)"
            ))
        })?;
    let file = SourceFile {
        place,
        display: display.clone(),
        format,
        bytes: 0,
        sha256: None,
        row_groups: None,
    };
    let raw = source::open_bytes(&file)?;
    let mut head = [0u8; 4];
    let mut reader = std::io::BufReader::new(raw);
    let peeked = std::io::BufRead::fill_buf(&mut reader).map_err(|e| read_error(&display, e))?;
    let n = peeked.len().min(4);
    head[..n].copy_from_slice(&peeked[..n]);
    let reader: Box<dyn Read> = match head {
        [0x1f, 0x8b, ..] => Box::new(flate2::read::MultiGzDecoder::new(reader)),
        [b'B', b'Z', b'h', _] => Box::new(bzip2::read::MultiBzDecoder::new(reader)),
        [0x28, 0xb5, 0x2f, 0xfd] => Box::new(zstd::Decoder::with_buffer(reader).map_err(|e| read_error(&display, e))?),
        _ => Box::new(reader),
    };
    let mut bytes = Vec::new();
    reader
        .take(MAX_SAMPLE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|error| read_error(&display, error))?;
    if bytes.len() as u64 > MAX_SAMPLE_BYTES {
        return Err(Error::config(format!(
            "{display}: more than {} MiB; infer profiles samples (take the first rows of it)",
            MAX_SAMPLE_BYTES >> 20
        )));
    }
    Ok(Sample { display, format, bytes })
}

/// Profiles the samples (all CSV of one dialect and header, or all Parquet of one schema)
/// and drafts the migration and the job of table `name`.
///
/// # Errors
///
/// Configuration: no samples, CSV and Parquet mixed, files of different fields or
/// dialects; a file polars cannot read.
pub fn infer(name: &str, samples: Vec<Sample>) -> Result<Draft> {
    let table = draft::column_name(name).ok_or_else(|| Error::config(format!("{name:?} is no table name")))?;
    let Some(first) = samples.first() else {
        return Err(Error::config("infer needs at least one file"));
    };
    let format = first.format;
    if let Some(other) = samples.iter().find(|s| s.format != format) {
        return Err(Error::config(format!(
            "{} and {} are of different formats: infer them apart",
            first.display, other.display
        )));
    }
    let files: Vec<String> = samples.iter().map(|s| s.display.clone()).collect();
    let (frame, dialect) = match format {
        FormatKind::Csv => {
            let (frame, dialect) = read_csvs(samples)?;
            (frame, Some(dialect))
        }
        _ => (read_parquets(samples)?, None),
    };
    let plain = profile::profile(&frame, false)?;
    // A decimal comma only where the delimiter leaves the comma free, and where it makes
    // more columns numbers.
    let (decimal_comma, profile) = match &dialect {
        Some(d) if d.delimiter != b',' => {
            let comma = profile::profile(&frame, true)?;
            if numeric(&comma) > numeric(&plain) {
                (true, comma)
            } else {
                (false, plain)
            }
        }
        _ => (false, plain),
    };
    Ok(Draft {
        migration: draft::migration(&table, &files, &profile),
        job: draft::job(&table, &files, dialect.as_ref(), decimal_comma, &profile),
        name: table,
        files,
        dialect,
        decimal_comma,
        profile,
    })
}

fn numeric(profile: &Profile) -> usize {
    use types::Kind;
    profile
        .columns
        .iter()
        .filter(|c| matches!(c.typed.kind, Kind::Integer | Kind::Bigint | Kind::DoublePrecision))
        .count()
}

fn stack(frames: Vec<(String, DataFrame)>) -> Result<DataFrame> {
    let mut frames = frames.into_iter();
    let Some((first_name, mut all)) = frames.next() else {
        return Err(Error::config("infer needs at least one file"));
    };
    for (name, frame) in frames {
        if frame.get_column_names() != all.get_column_names() || frame.dtypes() != all.dtypes() {
            return Err(Error::config(format!(
                "{first_name} and {name} have different fields: infer them apart"
            )));
        }
        all.vstack_mut(&frame)
            .map_err(|error| Error::config(format!("{name}: {error}")))?;
    }
    Ok(all)
}

fn read_csvs(samples: Vec<Sample>) -> Result<(DataFrame, Dialect)> {
    let mut found: Option<(String, Dialect)> = None;
    let mut frames = Vec::with_capacity(samples.len());
    for sample in samples {
        let (text, encoding) = dialect::decode(&sample.bytes);
        let dialect = dialect::detect(&text, encoding);
        match &found {
            Some((first, seen)) if *seen != dialect => {
                return Err(Error::config(format!(
                    "{first} and {} are written differently ({seen:?} and {dialect:?}): infer them apart",
                    sample.display
                )));
            }
            Some(_) => {}
            None => found = Some((sample.display.clone(), dialect.clone())),
        }
        let text = if dialect.bare_cr {
            text.replace('\r', "\n")
        } else {
            text
        };
        frames.push((
            sample.display.clone(),
            profile::read_csv(text, &dialect, &sample.display)?,
        ));
    }
    let dialect = found
        .map(|(_, d)| d)
        .ok_or_else(|| Error::config("infer needs at least one file"))?;
    Ok((stack(frames)?, dialect))
}

fn read_parquets(samples: Vec<Sample>) -> Result<DataFrame> {
    let frames = samples
        .into_iter()
        .map(|s| Ok((s.display.clone(), profile::read_parquet(s.bytes, &s.display)?)))
        .collect::<Result<Vec<_>>>()?;
    stack(frames)
}

/// Writes the draft under `dir`: `sql/migrations/NNNN_name.sql` (the next number there) and
/// `jobs/name.toml`. Returns both paths.
///
/// # Errors
///
/// Configuration: a file of that name exists (never overwritten), or cannot be written.
pub fn write(draft: &Draft, dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let migrations = dir.join("sql").join("migrations");
    let jobs = dir.join("jobs");
    let cannot =
        |path: &Path, error: std::io::Error| Error::config(format!("{}: cannot write it: {error}", path.display()));
    for folder in [&migrations, &jobs] {
        std::fs::create_dir_all(folder).map_err(|e| cannot(folder, e))?;
    }
    let next = std::fs::read_dir(&migrations)
        .map_err(|e| cannot(&migrations, e))?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.get(..4)?.parse::<u32>().ok())
        .max()
        .unwrap_or(0)
        + 1;
    let migration = migrations.join(format!("{next:04}_{}.sql", draft.name));
    let job = jobs.join(format!("{}.toml", draft.name));
    for (path, text) in [(&job, &draft.job), (&migration, &draft.migration)] {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| cannot(path, e))?;
        std::io::Write::write_all(&mut file, text.as_bytes()).map_err(|e| cannot(path, e))?;
    }
    Ok((migration, job))
}
