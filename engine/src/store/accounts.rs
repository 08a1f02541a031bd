//! Users, their deposits, and what they booked or looked at.

use std::sync::LazyLock;

use chrono::NaiveDate;
use sqlx::{FromRow, Row};

use super::{on_pool, Store};
use crate::domain::{Coordinates, Deposit, Timestamp, User};
use crate::error::EngineError;
use crate::ids::{DepositId, OfferId, UserId};
use crate::money::Cents;

/// One past booking or interaction of a user, with what profiles need of the offer.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub offer_id: OfferId,
    pub title: String,
    pub subcategory: String,
    /// `"booking"`, or the interaction kind (`"view"`, `"click"`, `"favorite"`).
    pub kind: String,
    pub at: Timestamp,
}

#[derive(sqlx::FromRow)]
struct UserRow {
    id: i64,
    birth_date: String,
    department: String,
    lat: f64,
    lon: f64,
    notifications_opt_in: bool,
    created_at: i64,
}

#[derive(sqlx::FromRow)]
pub(super) struct DepositRow {
    id: i64,
    user_id: i64,
    policy: String,
    age: i32,
    amount_cents: i64,
    spent_cents: i64,
    digital_spent_cents: i64,
    physical_spent_cents: i64,
    digital_cap_cents: Option<i64>,
    physical_cap_cents: Option<i64>,
    granted_at: i64,
    expires_at: i64,
    carried_in_cents: i64,
    closed_cents: i64,
}

impl From<DepositRow> for Deposit {
    fn from(r: DepositRow) -> Deposit {
        Deposit {
            id: DepositId(r.id),
            user_id: UserId(r.user_id),
            policy: r.policy,
            age: r.age,
            amount: Cents(r.amount_cents),
            carried_in: Cents(r.carried_in_cents),
            closed: Cents(r.closed_cents),
            spent: Cents(r.spent_cents),
            digital_spent: Cents(r.digital_spent_cents),
            physical_spent: Cents(r.physical_spent_cents),
            digital_cap: r.digital_cap_cents.map(Cents),
            physical_cap: r.physical_cap_cents.map(Cents),
            granted_at: r.granted_at,
            expires_at: r.expires_at,
        }
    }
}

/// Every column of a deposit, for [`DepositRow`].
pub(super) const DEPOSIT_SELECT: &str = "SELECT id, user_id, policy, age, amount_cents, spent_cents, \
     digital_spent_cents, physical_spent_cents, digital_cap_cents, physical_cap_cents, granted_at, expires_at, \
     carried_in_cents, closed_cents FROM deposits";

/// Which of a user's deposits is in force at `$2`: the latest granted that has not expired.
const IN_FORCE: &str =
    "granted_at <= $2 AND expires_at > $2 ORDER BY granted_at DESC, id DESC LIMIT 1";

/// Every column of a user, for [`UserRow`].
const USER_SELECT: &str =
    "SELECT id, birth_date, department, lat, lon, notifications_opt_in, created_at FROM users WHERE id = $1";

/// The deposit in force at `$2` for user `$1`.
static ACTIVE_DEPOSIT: LazyLock<String> =
    LazyLock::new(|| format!("{DEPOSIT_SELECT} WHERE user_id = $1 AND {IN_FORCE}"));

/// What a feed reads of user `$1`, in one statement: first (`part` -1) their row with the
/// deposit in force at `$2`, if any; then their latest bookings (not cancelled), `$3` at
/// most, newest first (`part` 0), then their latest interactions likewise (`part` 1). Each
/// row leaves the other kind's columns null.
static USER_CONTEXT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT -1 AS part, u.id, u.birth_date, u.department, u.lat, u.lon, u.notifications_opt_in, \
         u.created_at, d.id AS deposit_id, d.policy, d.age, d.amount_cents, d.spent_cents, \
         d.digital_spent_cents, d.physical_spent_cents, d.digital_cap_cents, d.physical_cap_cents, \
         d.granted_at, d.expires_at, d.carried_in_cents, d.closed_cents, \
         NULL AS offer_id, NULL AS title, NULL AS subcategory, NULL AS kind, NULL AS at, NULL AS seq \
         FROM users u LEFT JOIN deposits d ON d.id = \
         (SELECT id FROM deposits WHERE user_id = u.id AND {IN_FORCE}) WHERE u.id = $1 \
         UNION ALL \
         SELECT part, {nulls} id, title, subcategory, kind, at, seq FROM (\
           SELECT * FROM (SELECT 0 AS part, o.id, o.title, o.subcategory, 'booking' AS kind, \
             b.created_at AS at, b.id AS seq FROM bookings b JOIN offers o ON o.id = b.offer_id \
             WHERE b.user_id = $1 AND b.status <> 'cancelled' \
             ORDER BY b.created_at DESC, b.id DESC LIMIT $3) bs \
           UNION ALL \
           SELECT * FROM (SELECT 1 AS part, o.id, o.title, o.subcategory, i.kind, i.at, i.id AS seq \
             FROM interactions i JOIN offers o ON o.id = i.offer_id \
             WHERE i.user_id = $1 ORDER BY i.at DESC, i.id DESC LIMIT $3) ins\
         ) h ORDER BY part, at DESC, seq DESC",
        // The user's and the deposit's twenty columns, null in a history row.
        nulls = "NULL, ".repeat(20),
    )
});

/// A user and the columns of their deposit in force, `None` throughout when they have none:
/// the first row of [`USER_CONTEXT`].
#[derive(sqlx::FromRow)]
struct UserWithDepositRow {
    #[sqlx(flatten)]
    user: UserRow,
    deposit_id: Option<i64>,
    policy: Option<String>,
    age: Option<i32>,
    amount_cents: Option<i64>,
    spent_cents: Option<i64>,
    digital_spent_cents: Option<i64>,
    physical_spent_cents: Option<i64>,
    digital_cap_cents: Option<i64>,
    physical_cap_cents: Option<i64>,
    granted_at: Option<i64>,
    expires_at: Option<i64>,
    carried_in_cents: Option<i64>,
    closed_cents: Option<i64>,
}

impl UserWithDepositRow {
    /// The user's row and their deposit's, which the outer join left all null or none.
    fn split(self) -> (UserRow, Option<DepositRow>) {
        let deposit = (|| {
            Some(DepositRow {
                id: self.deposit_id?,
                user_id: self.user.id,
                policy: self.policy?,
                age: self.age?,
                amount_cents: self.amount_cents?,
                spent_cents: self.spent_cents?,
                digital_spent_cents: self.digital_spent_cents?,
                physical_spent_cents: self.physical_spent_cents?,
                digital_cap_cents: self.digital_cap_cents,
                physical_cap_cents: self.physical_cap_cents,
                granted_at: self.granted_at?,
                expires_at: self.expires_at?,
                carried_in_cents: self.carried_in_cents?,
                closed_cents: self.closed_cents?,
            })
        })();
        (self.user, deposit)
    }
}

/// A history row of [`USER_CONTEXT`].
#[derive(sqlx::FromRow)]
struct HistoryRow {
    offer_id: i64,
    title: String,
    subcategory: String,
    kind: String,
    at: i64,
}

/// What a feed reads of its user: who they are, what they did, what they can spend.
#[derive(Debug, Clone)]
pub struct UserContext {
    /// The user, as [`Store::user`] reads them.
    pub user: User,
    /// The latest bookings (not cancelled), then the latest interactions, each newest
    /// first and at most the limit asked.
    pub history: Vec<HistoryEntry>,
    /// The deposit in force, if any.
    pub deposit: Option<Deposit>,
}

impl Store {
    /// The user with this id.
    pub async fn user(&self, id: UserId) -> Result<Option<User>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, UserRow>(USER_SELECT).bind(id.0).fetch_optional(p).await
        })?;
        row.map(user_from_row).transpose()
    }

    /// The deposit a user can spend at `now`, if any.
    pub async fn active_deposit(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> Result<Option<Deposit>, EngineError> {
        let row = on_pool!(self, p => {
            sqlx::query_as::<_, DepositRow>(&ACTIVE_DEPOSIT).bind(user.0).bind(now).fetch_optional(p).await
        })?;
        Ok(row.map(Deposit::from))
    }

    /// The user with this id, their history (at most `history_limit` bookings and as many
    /// interactions) and the deposit they can spend at `now`, in one statement: every feed
    /// reads them, and each statement is a round trip and a share of the store's CPU.
    pub async fn user_context(
        &self,
        id: UserId,
        history_limit: i64,
        now: Timestamp,
    ) -> Result<Option<UserContext>, EngineError> {
        let read = on_pool!(in &self.feed_pool, p => {
            let rows = sqlx::query(&USER_CONTEXT)
                .bind(id.0)
                .bind(now)
                .bind(history_limit)
                .fetch_all(p)
                .await?;
            let mut rows = rows.iter();
            // Sorted first by its part; none when the user does not exist.
            match rows.next() {
                Some(first) if first.try_get::<i32, _>("part")? == -1 => {
                    let (user, deposit) = UserWithDepositRow::from_row(first)?.split();
                    let history = rows.map(HistoryRow::from_row).collect::<Result<Vec<_>, _>>()?;
                    Some((user, history, deposit))
                }
                _ => None,
            }
        });
        let Some((user, history, deposit)) = read else {
            return Ok(None);
        };
        Ok(Some(UserContext {
            user: user_from_row(user)?,
            history: history
                .into_iter()
                .map(|h| HistoryEntry {
                    offer_id: OfferId(h.offer_id),
                    title: h.title,
                    subcategory: h.subcategory,
                    kind: h.kind,
                    at: h.at,
                })
                .collect(),
            deposit: deposit.map(Deposit::from),
        }))
    }
}

fn user_from_row(r: UserRow) -> Result<User, EngineError> {
    Ok(User {
        id: UserId(r.id),
        birth_date: r
            .birth_date
            .parse::<NaiveDate>()
            .map_err(|e| EngineError::Data(format!("user {}: birth date: {e}", r.id)))?,
        department: r.department,
        home: Coordinates::new(r.lat, r.lon)?,
        notifications_opt_in: r.notifications_opt_in,
        created_at: r.created_at,
    })
}
