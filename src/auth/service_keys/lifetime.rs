//! A service key's lifetime as people type it (`90d`, `12h`, `30m`, `45s`), for the command line's
//! `--expires` and the console's Lifetime field alike.

/// Why a lifetime was refused. The text starts with the quoted input, so that each caller can put
/// its own name for the field in front (`--expires "9x": …`, `Lifetime "9x": …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifetimeError {
    #[error("{0:?}: expected a number followed by s, m, h or d")]
    NoUnit(String),
    #[error("{0:?}: expected a positive number before the unit")]
    NotPositive(String),
    #[error("{0:?} is too long")]
    TooLong(String),
}

/// The lifetime in milliseconds.
pub fn parse_lifetime(text: &str) -> Result<i64, LifetimeError> {
    // The unit is the last byte; a last character beyond ASCII is no unit (and `split_at` would
    // panic inside it).
    let (number, unit) = text
        .split_at_checked(text.len().saturating_sub(1))
        .ok_or_else(|| LifetimeError::NoUnit(text.to_owned()))?;
    let factor = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(LifetimeError::NoUnit(text.to_owned())),
    };
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| LifetimeError::NotPositive(text.to_owned()))?;
    n.checked_mul(factor)
        .ok_or_else(|| LifetimeError::TooLong(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_seconds_minutes_hours_days() {
        assert_eq!(parse_lifetime("45s"), Ok(45_000));
        assert_eq!(parse_lifetime("30m"), Ok(1_800_000));
        assert_eq!(parse_lifetime("12h"), Ok(43_200_000));
        assert_eq!(parse_lifetime("90d"), Ok(7_776_000_000));
    }

    #[test]
    fn refusals_name_the_input() {
        let text = |r: Result<i64, LifetimeError>| r.err().map(|e| e.to_string());
        assert_eq!(
            text(parse_lifetime("90")).as_deref(),
            Some(r#""90": expected a number followed by s, m, h or d"#)
        );
        assert_eq!(
            text(parse_lifetime("0d")).as_deref(),
            Some(r#""0d": expected a positive number before the unit"#)
        );
        assert_eq!(
            text(parse_lifetime("-3d")).as_deref(),
            Some(r#""-3d": expected a positive number before the unit"#)
        );
        assert_eq!(
            text(parse_lifetime(&format!("{}d", i64::MAX))).as_deref(),
            Some(format!(r#""{}d" is too long"#, i64::MAX).as_str())
        );
        assert!(parse_lifetime("").is_err());
        assert_eq!(
            text(parse_lifetime("9é")).as_deref(),
            Some(r#""9é": expected a number followed by s, m, h or d"#)
        );
        assert!(parse_lifetime("é").is_err());
    }
}
