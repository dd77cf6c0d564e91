//! Values written as text straight into a response's buffer, with no string of their own:
//! dates and times in ISO 8601, CSV fields quoted where needed; and text escaped for HTML.

use std::io::Write as _;

use chrono::{Datelike as _, NaiveDate, NaiveDateTime, Timelike as _};

/// `YYYY-MM-DD`; years outside 0 to 9999 as chrono writes them (`+10000-01-01`).
pub(super) fn date(d: NaiveDate, out: &mut Vec<u8>) {
    match u16::try_from(d.year()) {
        Ok(year) if year <= 9999 => {
            digits(u32::from(year), 4, out);
            out.push(b'-');
            digits(d.month(), 2, out);
            out.push(b'-');
            digits(d.day(), 2, out);
        }
        _ => {
            let _ = write!(out, "{}", d.format("%Y-%m-%d"));
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SS`, then the fraction of a second if any, in 3, 6 or 9 digits.
pub(super) fn timestamp(t: NaiveDateTime, out: &mut Vec<u8>) {
    date(t.date(), out);
    out.push(b'T');
    digits(t.hour(), 2, out);
    out.push(b':');
    digits(t.minute(), 2, out);
    out.push(b':');
    // A leap second is chrono's 60th second.
    let nanos = t.nanosecond();
    digits(t.second() + nanos / 1_000_000_000, 2, out);
    let nanos = nanos % 1_000_000_000;
    if nanos != 0 {
        out.push(b'.');
        if nanos.is_multiple_of(1_000_000) {
            digits(nanos / 1_000_000, 3, out);
        } else if nanos.is_multiple_of(1_000) {
            digits(nanos / 1_000, 6, out);
        } else {
            digits(nanos, 9, out);
        }
    }
}

/// `n` in exactly `width` decimal digits (`n` has no more).
fn digits(n: u32, width: u32, out: &mut Vec<u8>) {
    for place in (0..width).rev() {
        let digit = n / 10u32.pow(place) % 10;
        out.push(b'0' + u8::try_from(digit).unwrap_or(0));
    }
}

/// One CSV field, quoted when it holds a comma, a quote or a line end, or is the empty only
/// field of its record (as the csv crate writes them, see `output::csv_record`).
pub(super) fn csv_field(s: &str, alone: bool, out: &mut Vec<u8>) {
    if (alone && s.is_empty()) || s.bytes().any(|b| matches!(b, b',' | b'"' | b'\n' | b'\r')) {
        out.push(b'"');
        for b in s.bytes() {
            if b == b'"' {
                out.push(b'"');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

/// `text` safe in HTML, as an element's content or a quoted attribute.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::*;
    use crate::api::output::csv_record;

    /// Each field as the csv crate writes it alone, and dates and times as chrono's
    /// `%Y-%m-%d`, `%Y-%m-%dT%H:%M:%S%.f` and RFC 3339 (`AutoSi`, `Z`) write them.
    #[test]
    fn fields_and_times_are_written_as_the_crates_write_them() {
        for field in ["", "plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", "ünï"] {
            for alone in [true, false] {
                let mut ours = Vec::new();
                csv_field(field, alone, &mut ours);
                let mut theirs = Vec::new();
                let record = if alone {
                    vec![Some(field.to_owned())]
                } else {
                    vec![Some(field.to_owned()), None]
                };
                csv_record(record.into_iter(), &mut theirs);
                let theirs = String::from_utf8(theirs).unwrap();
                let theirs = if alone {
                    theirs.trim_end().to_owned()
                } else {
                    theirs.trim_end().trim_end_matches(',').to_owned()
                };
                assert_eq!(String::from_utf8(ours).unwrap(), theirs, "{field:?}");
            }
        }
        let day = NaiveDate::from_ymd_opt(2016, 1, 2).unwrap();
        for (date, nanos) in [
            (day, 0),
            (day, 120_000_000),
            (day, 123_456_000),
            (day, 1),
            (day, 1_500_000_000),
        ]
        .into_iter()
        .chain([
            (NaiveDate::from_ymd_opt(12_345, 6, 7).unwrap(), 0),
            (NaiveDate::from_ymd_opt(-44, 3, 15).unwrap(), 5),
        ]) {
            let t = date.and_hms_nano_opt(23, 5, 59, nanos).unwrap();
            let mut ours = Vec::new();
            super::date(date, &mut ours);
            assert_eq!(String::from_utf8(ours).unwrap(), date.format("%Y-%m-%d").to_string());
            let mut ours = Vec::new();
            timestamp(t, &mut ours);
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                t.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
            );
            let mut ours = Vec::new();
            let tz = t.and_utc();
            timestamp(tz.naive_utc(), &mut ours);
            ours.push(b'Z');
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                tz.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
        }
    }
}
