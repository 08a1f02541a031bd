//! Money in integer euro cents: public money is never a float.

use serde::{Deserialize, Serialize};

/// An amount of euros in cents. Never negative where it is a price or a balance;
/// arithmetic that could go below zero goes through [`Cents::checked_sub`].
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(transparent)]
pub struct Cents(pub i64);

impl Cents {
    /// Zero euros.
    pub const ZERO: Cents = Cents(0);

    /// Whole euros as cents.
    pub const fn euros(euros: i64) -> Cents {
        Cents(euros * 100)
    }

    /// `self - other`, or `None` when the result would be negative.
    pub fn checked_sub(self, other: Cents) -> Option<Cents> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Cents)
    }

    /// `self * n`, for duo bookings (n = 2).
    pub fn times(self, n: i64) -> Cents {
        Cents(self.0 * n)
    }
}

impl std::ops::Add for Cents {
    type Output = Cents;
    fn add(self, rhs: Cents) -> Cents {
        Cents(self.0 + rhs.0)
    }
}

impl std::fmt::Display for Cents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{:02} €", self.0 / 100, (self.0 % 100).abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_never_goes_negative() {
        assert_eq!(Cents(500).checked_sub(Cents(200)), Some(Cents(300)));
        assert_eq!(Cents(200).checked_sub(Cents(201)), None);
        assert_eq!(Cents::euros(3).to_string(), "3,00 €");
        assert_eq!(Cents(1050).to_string(), "10,50 €");
    }
}
