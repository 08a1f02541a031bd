//! Credit policy versions, read from `datasets/credit_policies.csv`.
//!
//! Amounts change by decree, so they are data with validity dates: the version in
//! force on the day a deposit is granted decides it, never retroactively.

use std::sync::OnceLock;

use chrono::{Datelike, Months, NaiveDate};
use serde::Deserialize;

use crate::error::EngineError;
use crate::money::Cents;

const POLICIES_CSV: &str = include_str!("../../datasets/credit_policies.csv");

/// When a deposit stops being spendable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At the user's birthday of this age.
    UntilAge(u32),
    /// This many months after the grant.
    Months(u32),
}

/// One line of a policy version: what is granted at one age.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRule {
    pub policy: String,
    pub valid_from: NaiveDate,
    /// Exclusive; `None` while in force.
    pub valid_until: Option<NaiveDate>,
    pub age: u32,
    pub amount: Cents,
    pub expiry: Expiry,
    pub digital_cap: Option<Cents>,
    pub physical_cap: Option<Cents>,
}

/// A deposit due to a user: the rule that grants it, and its dates.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    pub rule: PolicyRule,
    pub granted_on: NaiveDate,
    pub expires_on: NaiveDate,
}

#[derive(Deserialize)]
struct Row {
    policy: String,
    valid_from: NaiveDate,
    valid_until: Option<NaiveDate>,
    age: u32,
    amount_cents: i64,
    expiry: String,
    digital_cap_cents: Option<i64>,
    physical_cap_cents: Option<i64>,
}

/// All policy versions, in file order.
pub fn policies() -> &'static [PolicyRule] {
    static RULES: OnceLock<Vec<PolicyRule>> = OnceLock::new();
    RULES.get_or_init(|| {
        parse(POLICIES_CSV).expect("datasets/credit_policies.csv is valid (tested)")
    })
}

/// Parses a policy file of the shape of `datasets/credit_policies.csv`.
pub fn parse(text: &str) -> Result<Vec<PolicyRule>, EngineError> {
    let bad = |e: String| EngineError::Data(format!("credit policies: {e}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    reader
        .deserialize::<Row>()
        .map(|row| {
            let row = row.map_err(|e| bad(e.to_string()))?;
            let expiry = match row.expiry.split_once(':') {
                Some(("until_age", n)) => {
                    Expiry::UntilAge(n.parse().map_err(|_| bad(row.expiry.clone()))?)
                }
                Some(("months", n)) => {
                    Expiry::Months(n.parse().map_err(|_| bad(row.expiry.clone()))?)
                }
                _ => return Err(bad(format!("unknown expiry {}", row.expiry))),
            };
            Ok(PolicyRule {
                policy: row.policy,
                valid_from: row.valid_from,
                valid_until: row.valid_until,
                age: row.age,
                amount: Cents(row.amount_cents),
                expiry,
                digital_cap: row.digital_cap_cents.map(Cents),
                physical_cap: row.physical_cap_cents.map(Cents),
            })
        })
        .collect()
}

/// The birthday at `age`; 29 February births have theirs on 28 February in other years.
pub fn birthday(birth: NaiveDate, age: u32) -> NaiveDate {
    let year = birth.year() + age as i32;
    NaiveDate::from_ymd_opt(year, birth.month(), birth.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, birth.month(), birth.day() - 1))
        .expect("a valid date one day earlier")
}

/// Age in whole years on `day`.
pub fn age_on(birth: NaiveDate, day: NaiveDate) -> u32 {
    let mut age = (day.year() - birth.year()).max(0) as u32;
    if age > 0 && birthday(birth, age) > day {
        age -= 1;
    }
    age
}

/// The deposits due to someone born on `birth`, granted on or before `until`, oldest first:
/// one at each birthday whose date falls in a policy version granting that age.
pub fn grants(birth: NaiveDate, until: NaiveDate) -> Vec<Grant> {
    let mut out = Vec::new();
    for age in 15..=18 {
        let day = birthday(birth, age);
        if day > until {
            break;
        }
        let rule = policies().iter().find(|r| {
            r.age == age && r.valid_from <= day && r.valid_until.is_none_or(|end| day < end)
        });
        if let Some(rule) = rule {
            let expires_on = match rule.expiry {
                Expiry::UntilAge(a) => birthday(birth, a),
                Expiry::Months(m) => day + Months::new(m),
            };
            out.push(Grant {
                rule: rule.clone(),
                granted_on: day,
                expires_on,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn shipped_policies_parse() {
        assert_eq!(policies().len(), 7);
    }

    #[test]
    fn a_new_version_applies_only_to_deposits_granted_after_it() {
        // Turned 15 before the 2025 reform: 20 € under 2021, then nothing at 16 under 2025.
        let g = grants(d("2010-01-10"), d("2026-11-25"));
        assert_eq!(g.len(), 1);
        assert_eq!(
            (g[0].rule.policy.as_str(), g[0].rule.amount),
            ("2021", Cents(2000))
        );
        assert_eq!(g[0].expires_on, d("2028-01-10"));

        // 17 after the reform: 50 €; 18 a year later: 150 € until the 21st birthday.
        let g = grants(d("2008-06-01"), d("2026-11-25"));
        let amounts: Vec<_> = g
            .iter()
            .map(|g| (g.rule.policy.as_str(), g.rule.age, g.rule.amount.0))
            .collect();
        assert_eq!(
            amounts,
            [
                ("2021", 15, 2000),
                ("2021", 16, 3000),
                ("2025", 17, 5000),
                ("2025", 18, 15000)
            ]
        );
        assert_eq!(g[3].expires_on, d("2029-06-01"));
    }

    #[test]
    fn ages_and_leap_birthdays() {
        assert_eq!(age_on(d("2008-02-29"), d("2026-02-27")), 17);
        assert_eq!(age_on(d("2008-02-29"), d("2026-02-28")), 18);
        assert_eq!(age_on(d("2010-11-25"), d("2026-11-25")), 16);
        assert_eq!(age_on(d("2010-11-26"), d("2026-11-25")), 15);
    }
}
