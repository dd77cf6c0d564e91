//! Time helpers of the spec: time zones of local timestamps, fixed offsets, days since 1970.

use chrono::FixedOffset;

/// The time zone of local timestamps: a fixed offset, or an IANA zone with its
/// daylight-saving rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Fixed(FixedOffset),
    Named(chrono_tz::Tz),
}

impl Zone {
    /// `UTC`, `+08:00`, or an IANA name such as `Australia/Sydney`.
    pub fn parse(text: &str) -> Option<Zone> {
        parse_offset(text)
            .map(Zone::Fixed)
            .or_else(|| text.parse::<chrono_tz::Tz>().ok().map(Zone::Named))
    }

    /// Microseconds since 1970 (UTC) of a local time. As PostgreSQL does, a local time that
    /// occurs twice (clocks going back) is the earlier instant, and one that does not exist
    /// (a daylight-saving gap) is read with the offset in force before the gap.
    pub fn utc_micros(self, local: chrono::NaiveDateTime) -> Option<i64> {
        use chrono::{Offset as _, TimeZone as _};
        match self {
            Zone::Fixed(offset) => offset
                .from_local_datetime(&local)
                .single()
                .map(|t| t.timestamp_micros()),
            Zone::Named(zone) => {
                if let Some(t) = zone.from_local_datetime(&local).earliest() {
                    Some(t.timestamp_micros())
                } else {
                    // Gaps last at most a few hours; the offset three hours before is the old one.
                    let before = zone
                        .from_local_datetime(&(local - chrono::Duration::hours(3)))
                        .earliest()?;
                    let offset = before.offset().fix().local_minus_utc();
                    Some(
                        (local - chrono::Duration::seconds(i64::from(offset)))
                            .and_utc()
                            .timestamp_micros(),
                    )
                }
            }
        }
    }
}

/// Days from 1970-01-01, as Arrow's `Date32` counts.
pub fn days_since_epoch(day: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("1970-01-01 is a date");
    i32::try_from((day - epoch).num_days()).unwrap_or(i32::MAX)
}

/// `UTC`, `Z`, or `+HH:MM` / `-HH:MM`.
pub fn parse_offset(tz: &str) -> Option<FixedOffset> {
    if tz.eq_ignore_ascii_case("utc") || tz == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match tz.as_bytes().first()? {
        b'+' => (1, &tz[1..]),
        b'-' => (-1, &tz[1..]),
        _ => return None,
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    // Bounded before they are multiplied: a long run of digits overflowed (found by fuzzing).
    let hours = hours.parse::<i32>().ok().filter(|h| (0..24).contains(h))?;
    let minutes = minutes.parse::<i32>().ok().filter(|m| (0..60).contains(m))?;
    FixedOffset::east_opt(sign * (hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_parse() {
        assert_eq!(parse_offset("+08:00").unwrap().local_minus_utc(), 8 * 3600);
        assert_eq!(parse_offset("UTC").unwrap().local_minus_utc(), 0);
        assert!(parse_offset("Asia/Shanghai").is_none());
        assert_eq!(parse_offset("-05:30").unwrap().local_minus_utc(), -(5 * 3600 + 30 * 60));
        for out_of_range in ["+0111111111:00", "+24:00", "+01:60", "+01:-5", "-99999999999"] {
            assert!(parse_offset(out_of_range).is_none(), "{out_of_range}");
        }
        assert_eq!(
            Zone::parse("Asia/Shanghai"),
            Some(Zone::Named(chrono_tz::Asia::Shanghai))
        );
        assert!(Zone::parse("Mars/Olympus").is_none());
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let sydney = Zone::parse("Australia/Sydney").unwrap();
        let at = |s| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        // AEDT (+11) in February, AEST (+10) in June.
        assert_eq!(sydney.utc_micros(at("2012-02-07 08:41")), Some(1_328_564_460_000_000));
        assert_eq!(sydney.utc_micros(at("2012-06-28 08:41")), Some(1_340_836_860_000_000));
        // 2012-10-07 02:30 does not exist in Sydney (clocks go from 02:00 to 03:00): it is
        // read at +10:00, the offset before the gap, as PostgreSQL reads it.
        assert_eq!(
            sydney.utc_micros(at("2012-10-07 02:30")),
            sydney.utc_micros(at("2012-10-07 03:30"))
        );
        assert_eq!(sydney.utc_micros(at("2012-10-07 02:30")), Some(1_349_541_000_000_000));
    }
}
