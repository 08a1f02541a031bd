//! The generator's French vocabulary (`datasets/lexicon.json`): title patterns per
//! subcategory, description sentences per category, venue names per venue type, and
//! the word banks their `{placeholders}` draw from.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rand::seq::SliceRandom;
use rand::Rng;
use serde::Deserialize;

use crate::error::EngineError;

const LEXICON_JSON: &str = include_str!("../../../datasets/lexicon.json");

/// How to generate offers of one subcategory.
#[derive(Debug, Clone, Deserialize)]
pub struct SubcategoryWords {
    /// Title patterns with `{placeholders}`.
    pub titles: Vec<String>,
    /// Venue types that hold such offers (empty for digital-only subcategories).
    pub venues: Vec<String>,
    /// Price range in cents, inclusive.
    pub price: [i64; 2],
    /// Relative frequency among offers.
    pub weight: f64,
    /// Whether offers name an artist or author.
    #[serde(default)]
    pub artist: bool,
}

/// The whole vocabulary.
#[derive(Debug, Deserialize)]
pub struct Lexicon {
    words: BTreeMap<String, Vec<String>>,
    descriptions: BTreeMap<String, Vec<String>>,
    venue_names: BTreeMap<String, Vec<String>>,
    pub subcategories: BTreeMap<String, SubcategoryWords>,
}

/// Values for the placeholders that are not word banks.
pub struct Context<'a> {
    pub city: &'a str,
    pub venue: &'a str,
    pub artist: &'a str,
}

impl Lexicon {
    /// The shipped vocabulary.
    pub fn shipped() -> Result<&'static Lexicon, EngineError> {
        static SHIPPED: OnceLock<Result<Lexicon, String>> = OnceLock::new();
        SHIPPED
            .get_or_init(|| serde_json::from_str(LEXICON_JSON).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| EngineError::Data(format!("datasets/lexicon.json: {e}")))
    }

    /// A random word of a bank.
    pub fn word<R: Rng>(&self, bank: &str, rng: &mut R) -> &str {
        self.words
            .get(bank)
            .and_then(|w| w.choose(rng))
            .map_or("", String::as_str)
    }

    /// Fills a pattern's placeholders.
    pub fn render<R: Rng>(&self, pattern: &str, ctx: &Context<'_>, rng: &mut R) -> String {
        let mut out = String::with_capacity(pattern.len() + 32);
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let Some(close) = rest[open..].find('}') else {
                break;
            };
            let name = &rest[open + 1..open + close];
            let volume;
            let value = match name {
                "city" => ctx.city,
                "venue" => ctx.venue,
                "artist" => ctx.artist,
                "volume" => {
                    volume = rng.gen_range(1..=12).to_string();
                    &volume
                }
                bank => self.word(bank, rng),
            };
            elide(&mut out, value);
            out.push_str(value);
            rest = &rest[open + close + 1..];
        }
        out.push_str(rest);
        capitalise(out)
    }

    /// A description for an offer of `category`.
    pub fn description<R: Rng>(&self, category: &str, ctx: &Context<'_>, rng: &mut R) -> String {
        let pattern = self
            .descriptions
            .get(category)
            .and_then(|d| d.choose(rng))
            .map_or("", String::as_str);
        self.render(pattern, ctx, rng)
    }

    /// A venue name for a venue type.
    pub fn venue_name<R: Rng>(&self, venue_type: &str, city: &str, rng: &mut R) -> String {
        let pattern = self
            .venue_names
            .get(venue_type)
            .and_then(|n| n.choose(rng))
            .map_or("Lieu culturel", String::as_str);
        self.render(
            pattern,
            &Context {
                city,
                venue: "",
                artist: "",
            },
            rng,
        )
    }

    /// An artist or author name.
    pub fn person<R: Rng>(&self, rng: &mut R) -> String {
        format!(
            "{} {}",
            self.word("first_name", rng),
            self.word("last_name", rng)
        )
    }

    /// Venue types named in the lexicon, in a stable order.
    pub fn venue_types(&self) -> Vec<&str> {
        self.venue_names.keys().map(String::as_str).collect()
    }
}

/// French elision: "de Ajaccio" is written "d'Ajaccio", "le Opéra" "l'Opéra".
fn elide(out: &mut String, next: &str) {
    let vowel = next
        .chars()
        .next()
        .is_some_and(|c| "AEIOUYÂÉÈÊÎÔaeiouyâéèêîôh".contains(c));
    for word in ["de ", "le ", "la ", "De ", "Le ", "La "] {
        if !vowel || !out.ends_with(word) {
            continue;
        }
        // `word` is ASCII and ends `out`, so `start` is a character boundary.
        let start = out.len() - word.len();
        if start == 0 || out[..start].ends_with(' ') {
            out.truncate(start + 1);
            out.push('\'');
            return;
        }
    }
}

fn capitalise(s: String) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::taxonomy::Taxonomy;

    #[test]
    fn every_public_subcategory_has_words_and_patterns_render_fully() {
        let lexicon = Lexicon::shipped().unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let ctx = Context {
            city: "Lyon",
            venue: "Théâtre des Célestins",
            artist: "Camille Martin",
        };
        for sub in Taxonomy::shipped().public_subcategories() {
            let words = lexicon
                .subcategories
                .get(&sub.id)
                .unwrap_or_else(|| panic!("{} has no words", sub.id));
            assert!(
                words.price[0] <= words.price[1] && words.weight > 0.0,
                "{}",
                sub.id
            );
            assert_eq!(
                words.venues.is_empty(),
                sub.online && !sub.id.ends_with("VENTE_DISTANCE"),
                "{}",
                sub.id
            );
            for pattern in &words.titles {
                let title = lexicon.render(pattern, &ctx, &mut rng);
                assert!(
                    !title.contains('{') && !title.trim().is_empty(),
                    "{pattern} → {title}"
                );
            }
            let description = lexicon.description(&sub.category, &ctx, &mut rng);
            assert!(
                !description.is_empty() && !description.contains('{'),
                "{}",
                sub.category
            );
        }
        for t in lexicon.venue_types() {
            assert!(!lexicon.venue_name(t, "Brest", &mut rng).contains('{'));
        }
        let ctx = Context {
            city: "Ajaccio",
            venue: "",
            artist: "",
        };
        assert_eq!(
            lexicon.render("Mairie de {city}", &ctx, &mut rng),
            "Mairie d'Ajaccio"
        );
        let brest = Context {
            city: "Brest",
            ..ctx
        };
        assert_eq!(
            lexicon.render("Cinéma de {city}", &brest, &mut rng),
            "Cinéma de Brest"
        );
    }
}
