//! Numbers the operator tunes through the environment (pool sizes, the feed gate, the
//! request deadline).
//!
//! A value that is not a number, or not one the setting accepts, falls back to the
//! default with a warning rather than stopping the service: a typo in a deployment
//! should cost a tuning, not an outage, and the warning says which.

use std::fmt::Display;
use std::str::FromStr;

/// The number `variable` holds in the environment, or `default` when it is unset or
/// when its value is not a number that `accept` takes; `what` names what the number
/// counts in the warning logged then.
///
/// ```
/// // Unset: the default, and no warning.
/// let connections = engine::settings::number(
///     "MOSAIC_DOC_EXAMPLE_UNSET",
///     16_u32,
///     "a positive number of connections",
///     |&n| n > 0,
/// );
/// assert_eq!(connections, 16);
/// ```
pub fn number<T>(variable: &str, default: T, what: &str, accept: impl Fn(&T) -> bool) -> T
where
    T: FromStr + Display,
{
    match std::env::var(variable) {
        Err(_) => default,
        Ok(value) => parse(&value, accept).unwrap_or_else(|| {
            tracing::warn!(
                variable,
                value,
                %default,
                "not {what}; using the default"
            );
            default
        }),
    }
}

/// `value` as a number that `accept` takes, blanks around it ignored.
fn parse<T: FromStr>(value: &str, accept: impl Fn(&T) -> bool) -> Option<T> {
    value.trim().parse().ok().filter(accept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_the_setting_accepts_is_taken_blanks_and_all() {
        assert_eq!(parse::<u32>(" 8\n", |&n| n > 0), Some(8));
        assert_eq!(parse::<usize>("0", |_| true), Some(0));
    }

    #[test]
    fn anything_else_is_refused() {
        assert_eq!(
            parse::<u32>("0", |&n| n > 0),
            None,
            "refused by the setting"
        );
        assert_eq!(parse::<u32>("-3", |_| true), None, "not a u32");
        assert_eq!(parse::<u32>("eight", |_| true), None);
        assert_eq!(parse::<u32>("", |_| true), None);
    }
}
