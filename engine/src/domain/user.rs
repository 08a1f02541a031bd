use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Coordinates, Timestamp};
use crate::ids::{DepositId, UserId};
use crate::money::Cents;

/// A young person using the app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: UserId,
    pub birth_date: NaiveDate,
    /// INSEE department code of the home.
    pub department: String,
    pub home: Coordinates,
    pub notifications_opt_in: bool,
    pub created_at: Timestamp,
}

/// Credit granted to a user under a policy version; spent by bookings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deposit {
    pub id: DepositId,
    pub user_id: UserId,
    /// The credit policy version that granted it ("2021", "2025"…).
    pub policy: String,
    /// Age at which it was granted.
    pub age: i32,
    /// Everything credited: the grant plus what was carried over from the previous deposit.
    pub amount: Cents,
    /// The part of `amount` carried over from the previous deposit.
    pub carried_in: Cents,
    /// What left the deposit unspent when it ended (expired or carried over).
    pub closed: Cents,
    pub spent: Cents,
    pub digital_spent: Cents,
    pub physical_spent: Cents,
    pub digital_cap: Option<Cents>,
    pub physical_cap: Option<Cents>,
    pub granted_at: Timestamp,
    pub expires_at: Timestamp,
}

impl Deposit {
    /// What is left to spend, ignoring expiry.
    pub fn remaining(&self) -> Cents {
        Cents(self.amount.0 - self.spent.0 - self.closed.0)
    }
}
