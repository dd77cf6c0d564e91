//! A CSV file's dialect, found from its bytes: the encoding, the line ends, the delimiter,
//! the records before the header, whether there is a header at all.

/// What was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    /// `None`: UTF-8. Else the job's name for it (`[source] encoding`).
    pub encoding: Option<&'static str>,
    /// Lines end with a bare carriage return (old Mac files).
    pub bare_cr: bool,
    pub delimiter: u8,
    /// Records before the header (a preamble line), skipped.
    pub skip_records: usize,
    pub header: bool,
}

/// The delimiters tried, in the order preferred on a tie.
const DELIMITERS: [u8; 5] = [b',', b';', b'\t', b'|', b' '];

/// The records looked at to find the delimiter and the header.
const SAMPLE_RECORDS: usize = 200;

/// The text of `bytes` as UTF-8, and the encoding it was in (`None`: UTF-8 already). Bytes
/// that are not UTF-8 are read as Mac Roman when their lines end in a bare CR (a file of
/// the classic Mac OS, whose text was Mac Roman), else as Windows-1252 (Latin-1 and more).
pub fn decode(bytes: &[u8]) -> (String, Option<&'static str>) {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (text.to_owned(), None);
    }
    let (encoding, name) = if bare_cr(bytes) {
        (encoding_rs::MACINTOSH, "mac_roman")
    } else {
        (encoding_rs::WINDOWS_1252, "windows-1252")
    };
    let (text, _, _) = encoding.decode(bytes);
    (text.into_owned(), Some(name))
}

/// Whether lines end with a bare CR: more CRs not followed by LF than LFs.
pub fn bare_cr(bytes: &[u8]) -> bool {
    let lf = memchr::memchr_iter(b'\n', bytes).count();
    let cr = memchr::memchr_iter(b'\r', bytes)
        .filter(|&i| bytes.get(i + 1) != Some(&b'\n'))
        .count();
    cr > lf
}

/// The first records of `text`, split by `delimiter` (quotes respected).
fn records(text: &str, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    reader
        .records()
        .take(SAMPLE_RECORDS)
        .filter_map(std::result::Result::ok)
        .map(|record| record.iter().map(str::to_owned).collect())
        .collect()
}

/// How well `delimiter` splits the sample: the share of records with the most common field
/// count, when that count is more than one.
fn fit(records: &[Vec<String>]) -> (usize, usize) {
    let mut counts: std::collections::BTreeMap<usize, usize> = std::collections::BTreeMap::new();
    for record in records {
        *counts.entry(record.len()).or_default() += 1;
    }
    counts
        .into_iter()
        .filter(|(fields, _)| *fields > 1)
        .map(|(fields, records)| (records, fields))
        .max()
        .unwrap_or((0, 0))
}

/// Whether a record reads as a header: most of its fields named, and no name a number.
fn header_like(record: &[String]) -> bool {
    let named: Vec<&str> = record.iter().map(|f| f.trim()).filter(|f| !f.is_empty()).collect();
    named.len() * 2 > record.len() && named.iter().all(|f| f.replace(',', ".").parse::<f64>().is_err())
}

/// The dialect of a CSV file whose text is `text`.
pub fn detect(text: &str, encoding: Option<&'static str>) -> Dialect {
    let bare_cr = bare_cr(text.as_bytes());
    let normal;
    let text = if bare_cr {
        normal = text.replace('\r', "\n");
        normal.as_str()
    } else {
        text
    };
    let (delimiter, sample) = DELIMITERS
        .iter()
        .map(|&d| (d, records(text, d)))
        .max_by_key(|(d, sample)| {
            let (records, fields) = fit(sample);
            // On a tie the earlier delimiter wins.
            (
                records,
                fields.min(1),
                std::cmp::Reverse(DELIMITERS.iter().position(|x| x == d)),
            )
        })
        .unwrap_or((b',', Vec::new()));
    let (_, fields) = fit(&sample);
    // The header: the first record of the common width whose fields are all names.
    let first_full = sample.iter().position(|r| r.len() == fields);
    let header_at = sample.iter().take(10).position(|r| r.len() == fields && header_like(r));
    let (skip_records, header) = match (header_at, first_full) {
        (Some(at), _) => (at, true),
        (None, Some(at)) => (at, false),
        (None, None) => (0, true),
    };
    Dialect {
        encoding,
        bare_cr,
        delimiter,
        skip_records,
        header,
    }
}
