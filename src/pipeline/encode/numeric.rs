//! `numeric` values: decimal text parsed as `numeric_in` parses it, and written in the
//! server's binary form.

use bytes::{BufMut, BytesMut};

/// A `numeric` in `PostgreSQL`'s wire form: base-10000 digits, most significant first.
/// See `numeric_send` and `NumericVar` in `src/backend/utils/adt/numeric.c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Numeric {
    /// The power of 10000 of the first digit.
    pub weight: i16,
    /// `NUMERIC_POS`, `NUMERIC_NEG`, `NUMERIC_NAN`, `NUMERIC_PINF` or `NUMERIC_NINF`.
    pub sign: u16,
    /// Digits after the decimal point to display.
    pub dscale: u16,
    pub digits: Vec<i16>,
}

const NUMERIC_POS: u16 = 0x0000;
pub(super) const NUMERIC_NEG: u16 = 0x4000;
pub(super) const NUMERIC_NAN: u16 = 0xC000;
const NUMERIC_PINF: u16 = 0xD000;
const NUMERIC_NINF: u16 = 0xF000;
/// The largest display scale `numeric_in` accepts (`NUMERIC_MAX_DISPLAY_SCALE`).
const NUMERIC_MAX_DSCALE: i64 = 1000;
/// Exponents beyond this are rejected by `numeric_in` too.
const NUMERIC_MAX_EXPONENT: i64 = 1000;

impl Numeric {
    /// Parses decimal text as `numeric_in` does: an optional sign, digits with an optional
    /// `.`, an optional exponent; or `NaN`, `Infinity`, `-Infinity` (any case).
    pub fn parse(text: &str) -> Option<Numeric> {
        let text = text.trim();
        let special = |sign| {
            Some(Numeric {
                weight: 0,
                sign,
                dscale: 0,
                digits: Vec::new(),
            })
        };
        match text.to_ascii_lowercase().as_str() {
            "nan" => return special(NUMERIC_NAN),
            "infinity" | "+infinity" | "inf" | "+inf" => return special(NUMERIC_PINF),
            "-infinity" | "-inf" => return special(NUMERIC_NINF),
            _ => {}
        }
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        if exponent.abs() > NUMERIC_MAX_EXPONENT {
            return None;
        }
        let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int_part.is_empty() && frac_part.is_empty()
            || !int_part.bytes().chain(frac_part.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let frac_len = i64::try_from(frac_part.len()).ok()?;
        let dscale = u16::try_from((frac_len - exponent).clamp(0, NUMERIC_MAX_DSCALE)).ok()?;
        // Decimal digits, and how many of them stand before the point.
        let all: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).map(|b| b - b'0').collect();
        let leading = all.iter().take_while(|d| **d == 0).count();
        let digits10 = &all[leading..];
        if digits10.is_empty() {
            return Some(Numeric {
                weight: 0,
                sign: NUMERIC_POS,
                dscale,
                digits: Vec::new(),
            });
        }
        let point = i64::try_from(int_part.len()).ok()? + exponent - i64::try_from(leading).ok()?;
        // Decimal digit i has the exponent point - 1 - i; groups of four align on the point.
        let first_group = (point - 1).div_euclid(4);
        let last_group = (point - i64::try_from(digits10.len()).ok()?).div_euclid(4);
        let mut groups = vec![0i16; usize::try_from(first_group - last_group + 1).ok()?];
        for (i, digit) in digits10.iter().enumerate() {
            let exp = point - 1 - i64::try_from(i).ok()?;
            let group = usize::try_from(first_group - exp.div_euclid(4)).ok()?;
            let place = [1i16, 10, 100, 1000][usize::try_from(exp.rem_euclid(4)).ok()?];
            groups[group] += i16::from(*digit) * place;
        }
        while groups.last() == Some(&0) {
            groups.pop();
        }
        Some(Numeric {
            weight: i16::try_from(first_group).ok()?,
            sign: if negative { NUMERIC_NEG } else { NUMERIC_POS },
            dscale,
            digits: groups,
        })
    }

    /// Writes the field: length, then `numeric_send`'s bytes.
    pub fn write(&self, out: &mut BytesMut) {
        // At most ~260 groups (exponent and scale are bounded), so these never truncate.
        let ndigits = i16::try_from(self.digits.len()).unwrap_or(i16::MAX);
        out.put_i32(8 + 2 * i32::from(ndigits));
        out.put_i16(ndigits);
        out.put_i16(self.weight);
        out.put_u16(self.sign);
        out.put_u16(self.dscale);
        for digit in &self.digits {
            out.put_i16(*digit);
        }
    }
}
