use std::collections::HashMap;
use std::sync::Arc;

/// What the ranking knows of a user.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    /// Affinity per category, in `[0, 1]`, from bookings and interactions with time decay.
    pub category_affinity: HashMap<String, f64>,
    /// Affinity per subcategory, in `[0, 1]`.
    pub subcategory_affinity: HashMap<String, f64>,
    /// Categories the user booked at least once.
    pub booked_categories: Vec<String>,
    /// Credit left; offers above it are pushed down (they cannot be booked).
    pub remaining_credit_cents: Option<u64>,
    /// The user's learned embedding (same space as [`crate::Candidate::embedding`]);
    /// `None` when no model is loaded or the user is unknown to it.
    pub embedding: Option<Arc<[f32]>>,
}

impl Profile {
    /// Whether the user booked this category before.
    pub fn has_booked(&self, category: &str) -> bool {
        self.booked_categories.iter().any(|c| c == category)
    }
}
