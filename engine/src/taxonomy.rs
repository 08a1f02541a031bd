//! The category → subcategory taxonomy, read from `datasets/taxonomy.csv`.
//!
//! The file is embedded at build time so the binary runs anywhere, and the
//! taxonomy changes by editing data, not code.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::error::EngineError;

const TAXONOMY_CSV: &str = include_str!("../../datasets/taxonomy.csv");

/// Whether an offer of a subcategory is dated (event) or not (thing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OfferKind {
    Event,
    Thing,
}

/// One subcategory and the flags the rules need.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Subcategory {
    pub category: String,
    pub category_label: String,
    #[serde(rename = "subcategory")]
    pub id: String,
    pub label: String,
    pub kind: OfferKind,
    /// Digital only: offers carry a URL and no venue.
    pub online: bool,
    /// Counts toward the digital cap of a deposit.
    pub digital_capped: bool,
    /// A good to collect (books, records…): counts toward a physical cap where one exists.
    pub physical_good: bool,
    /// Never offered to users.
    pub internal: bool,
}

/// A category with its French label.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    pub id: String,
    pub label: String,
}

/// The whole taxonomy, with lookups by subcategory id.
#[derive(Debug)]
pub struct Taxonomy {
    subcategories: Vec<Subcategory>,
    categories: Vec<Category>,
    by_id: HashMap<String, usize>,
}

impl Taxonomy {
    /// The taxonomy shipped with this build.
    pub fn shipped() -> &'static Taxonomy {
        static SHIPPED: OnceLock<Taxonomy> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            Taxonomy::from_csv(TAXONOMY_CSV).expect("datasets/taxonomy.csv is valid (tested)")
        })
    }

    /// Parses a taxonomy file of the shape of `datasets/taxonomy.csv`.
    pub fn from_csv(text: &str) -> Result<Taxonomy, EngineError> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let subcategories = reader
            .deserialize()
            .collect::<Result<Vec<Subcategory>, _>>()
            .map_err(|e| EngineError::Data(format!("taxonomy: {e}")))?;
        let mut categories: Vec<Category> = Vec::new();
        let mut by_id = HashMap::new();
        for (i, sub) in subcategories.iter().enumerate() {
            if by_id.insert(sub.id.clone(), i).is_some() {
                return Err(EngineError::Data(format!("taxonomy: {} twice", sub.id)));
            }
            if !categories.iter().any(|c| c.id == sub.category) {
                categories.push(Category {
                    id: sub.category.clone(),
                    label: sub.category_label.clone(),
                });
            }
        }
        Ok(Taxonomy {
            subcategories,
            categories,
            by_id,
        })
    }

    /// Every subcategory, internal ones included, in file order.
    pub fn subcategories(&self) -> &[Subcategory] {
        &self.subcategories
    }

    /// Subcategories that may be offered to users.
    pub fn public_subcategories(&self) -> impl Iterator<Item = &Subcategory> {
        self.subcategories.iter().filter(|s| !s.internal)
    }

    /// Every category, in file order.
    pub fn categories(&self) -> &[Category] {
        &self.categories
    }

    /// The subcategory with this id.
    pub fn subcategory(&self, id: &str) -> Option<&Subcategory> {
        self.by_id.get(id).map(|&i| &self.subcategories[i])
    }

    /// The French label of a category id, or the id itself when unknown.
    pub fn category_label<'a>(&'a self, id: &'a str) -> &'a str {
        self.categories
            .iter()
            .find(|c| c.id == id)
            .map_or(id, |c| c.label.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_taxonomy_has_the_real_services_shape() {
        let t = Taxonomy::shipped();
        assert_eq!(t.categories().len(), 15);
        assert_eq!(t.subcategories().len(), 73);
        let seance = t.subcategory("SEANCE_CINE").unwrap();
        assert_eq!(seance.category, "CINEMA");
        assert_eq!(seance.kind, OfferKind::Event);
        assert!(t.subcategory("VOD").unwrap().digital_capped);
        assert!(!t.subcategory("CINE_VENTE_DISTANCE").unwrap().digital_capped);
        assert!(t.subcategory("OEUVRE_ART").unwrap().internal);
        assert_eq!(t.public_subcategories().count(), 69);
    }
}
