use serde::{Deserialize, Serialize};

use super::Timestamp;
use crate::ids::{OfferId, UserId};

/// A signal of interest short of a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    View,
    Click,
    Favorite,
}

impl InteractionKind {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::View => "view",
            InteractionKind::Click => "click",
            InteractionKind::Favorite => "favorite",
        }
    }
}

/// One user's view, click or favorite on an offer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interaction {
    pub user_id: UserId,
    pub offer_id: OfferId,
    pub kind: InteractionKind,
    pub at: Timestamp,
}
