//! Number formatting for the text formats, without `format!` on the common path.
//!
//! Why: a scrape writes thousands of numbers, nearly all of them integers (counts). Integers are
//! written digit by digit; any other `f64` goes through `Display`, which is what the `prometheus`
//! crate's `TextEncoder` uses (`f64::to_string`), so the two stay byte-identical: the shortest
//! decimal that round-trips, never an exponent, `inf`/`-inf`/`NaN` for the specials.

use std::io::Write as _;

/// Largest integer below which every `u64` is exact as an `f64` (2^53).
const EXACT: u64 = 1 << 53;

/// Appends the decimal digits of `v`.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

/// Appends a count as `TextEncoder` writes it (`count as f64`, then `Display`).
pub(crate) fn write_count(out: &mut Vec<u8>, v: u64) {
    if v <= EXACT {
        write_u64(out, v);
    } else {
        write_f64(out, v as f64);
    }
}

/// Appends `x` as `f64::to_string` would (integers without a fractional part).
pub(crate) fn write_f64(out: &mut Vec<u8>, x: f64) {
    if x.fract() == 0.0 && x.abs() < EXACT as f64 && !(x == 0.0 && x.is_sign_negative()) {
        if x < 0.0 {
            out.push(b'-');
        }
        write_u64(out, x.abs() as u64);
    } else {
        // Writing into a `Vec` cannot fail.
        let _ = write!(out, "{x}");
    }
}

/// Appends `x` in OpenMetrics form: as [`write_f64`], but `+Inf`, `-Inf` and `NaN` for the specials.
pub(crate) fn write_f64_om(out: &mut Vec<u8>, x: f64) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if x.is_infinite() {
        out.extend_from_slice(if x > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        write_f64(out, x);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f64) -> String {
        let mut out = Vec::new();
        write_f64(&mut out, x);
        String::from_utf8(out).unwrap_or_default()
    }

    #[test]
    fn matches_display_of_f64() {
        for x in [
            0.0,
            -0.0,
            1.0,
            -3.0,
            0.001,
            2.25,
            1e-7,
            1e20,
            9007199254740992.0,
            9007199254740993.0,
            f64::MAX,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            123456789.5,
        ] {
            assert_eq!(f(x), x.to_string(), "{x:?}");
        }
        for v in [0u64, 7, 1 << 53, (1 << 53) + 1, u64::MAX] {
            let mut out = Vec::new();
            write_count(&mut out, v);
            assert_eq!(
                String::from_utf8(out).unwrap_or_default(),
                (v as f64).to_string()
            );
        }
    }

    #[test]
    fn openmetrics_specials() {
        let om = |x: f64| {
            let mut out = Vec::new();
            write_f64_om(&mut out, x);
            String::from_utf8(out).unwrap_or_default()
        };
        assert_eq!(om(f64::INFINITY), "+Inf");
        assert_eq!(om(f64::NEG_INFINITY), "-Inf");
        assert_eq!(om(f64::NAN), "NaN");
        assert_eq!(om(0.5), "0.5");
    }
}
