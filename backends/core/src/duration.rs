//! Durations given by people (`30s`, `5m`, `1.5h`, `250ms`, or plain seconds), parsed within
//! bounds so that no input can panic (`Duration` does on negative, NaN or huge values) or busy-loop.

use std::time::Duration;

/// Parses `s` and checks it lies in `min..=max`. The error says what is wrong and what is allowed.
pub fn parse(s: &str, min: Duration, max: Duration) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let bad = || {
        format!("{s:?} is not a duration: give a number and a unit, like 250ms, 30s, 5m, 1h or 1d (plain numbers are seconds)")
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" | "" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86400.0,
        _ => return Err(bad()),
    };
    let secs = n * scale;
    let range = || format!("{s:?} is out of range: use {} to {}", show(min), show(max));
    if !secs.is_finite() || secs < min.as_secs_f64() || secs > max.as_secs_f64() {
        return Err(range());
    }
    Duration::try_from_secs_f64(secs).map_err(|_| range())
}

fn show(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 86400.0 && s % 86400.0 == 0.0 {
        format!("{}d", s / 86400.0)
    } else if s >= 3600.0 && s % 3600.0 == 0.0 {
        format!("{}h", s / 3600.0)
    } else if s >= 1.0 {
        format!("{s}s")
    } else {
        format!("{}ms", s * 1000.0)
    }
}

/// How long one request to a backend may take before it counts as failed (and is retried):
/// `SECRETSYNC_HTTP_TIMEOUT` (1s to 10m), else 30 s.
pub fn http_timeout() -> Result<Duration, String> {
    match std::env::var("SECRETSYNC_HTTP_TIMEOUT") {
        Ok(v) if !v.trim().is_empty() => {
            parse(&v, Duration::from_secs(1), Duration::from_secs(600))
                .map_err(|e| format!("SECRETSYNC_HTTP_TIMEOUT: {e}"))
        }
        _ => Ok(Duration::from_secs(30)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(30 * 86400);

    #[test]
    fn parses_units_and_plain_seconds() {
        assert_eq!(parse("5m", MIN, MAX).unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1.5h", MIN, MAX).unwrap(), Duration::from_secs(5400));
        assert_eq!(parse(" 90 ", MIN, MAX).unwrap(), Duration::from_secs(90));
        assert_eq!(
            parse("1500ms", MIN, MAX).unwrap(),
            Duration::from_millis(1500)
        );
        assert_eq!(parse("0", Duration::ZERO, MAX).unwrap(), Duration::ZERO);
    }

    #[test]
    fn hostile_input_is_an_error_never_a_panic() {
        for bad in [
            "-1",
            "NaN",
            "nan",
            "inf",
            "-inf",
            "1e400",
            "99999999999999999999h",
            "0.0000000001ms",
            "0s",
            "",
            "m",
            "5 minutes",
            "1..2s",
            "é",
            "5x",
            "31d",
        ] {
            let err = parse(bad, MIN, MAX).unwrap_err();
            assert!(err.contains(bad) || bad.is_empty(), "{bad}: {err}");
        }
        assert!(parse("0.0000000001ms", MIN, MAX)
            .unwrap_err()
            .contains("1s to 30d"));
    }
}
