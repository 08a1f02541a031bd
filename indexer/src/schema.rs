//! The tantivy schema: one document per offer.

use tantivy::schema::{
    Field, IndexRecordOption, NumericOptions, Schema, TextFieldIndexing, TextOptions, FAST,
    INDEXED, STORED, STRING,
};

use crate::analysis::FRENCH;

pub(crate) const ID: &str = "id";
pub(crate) const TITLE: &str = "title";
pub(crate) const DESCRIPTION: &str = "description";
pub(crate) const VENUE_NAME: &str = "venue_name";
pub(crate) const ARTIST: &str = "artist";
pub(crate) const SUBCATEGORY_LABEL: &str = "subcategory_label";
pub(crate) const CATEGORY: &str = "category";
pub(crate) const SUBCATEGORY: &str = "subcategory";
pub(crate) const VENUE_ID: &str = "venue_id";
pub(crate) const OFFERER_ID: &str = "offerer_id";
pub(crate) const LAT: &str = "lat";
pub(crate) const LON: &str = "lon";
pub(crate) const H3: &str = "h3";
pub(crate) const DIGITAL: &str = "digital";
pub(crate) const PRICE: &str = "price_cents";
pub(crate) const DUO: &str = "is_duo";
pub(crate) const EVENT: &str = "is_event";
pub(crate) const BEGINS: &str = "next_beginning_at";
pub(crate) const SOLD_OUT: &str = "sold_out";
pub(crate) const POPULARITY: &str = "popularity";
pub(crate) const REMAINING: &str = "remaining_places";

/// Text fields and their boost in the BM25 sum: a title match counts three
/// times a description match, so it ranks above it.
pub(crate) const TEXT_BOOSTS: [(&str, f32); 5] = [
    (TITLE, 3.0),
    (ARTIST, 2.0),
    (VENUE_NAME, 1.5),
    (SUBCATEGORY_LABEL, 1.5),
    (DESCRIPTION, 1.0),
];

/// Handles to every field, resolved once.
#[derive(Clone)]
pub(crate) struct Fields {
    pub id: Field,
    pub title: Field,
    pub description: Field,
    pub venue_name: Field,
    pub artist: Field,
    pub subcategory_label: Field,
    pub category: Field,
    pub subcategory: Field,
    pub venue_id: Field,
    pub offerer_id: Field,
    pub lat: Field,
    pub lon: Field,
    pub h3: Field,
    pub digital: Field,
    pub price: Field,
    pub duo: Field,
    pub event: Field,
    pub begins: Field,
    pub sold_out: Field,
    pub popularity: Field,
    pub remaining: Field,
    /// Text fields with their boosts, for query building.
    pub text: Vec<(Field, f32)>,
}

/// The schema; an on-disk index must have exactly this one to be reused.
pub(crate) fn build_schema() -> Schema {
    let mut b = Schema::builder();
    // Text is searched by term presence and BM25 only: no positions needed.
    let text = TextOptions::default().set_stored().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(FRENCH)
            .set_index_option(IndexRecordOption::WithFreqs),
    );
    let fast_stored = NumericOptions::default().set_fast().set_stored();
    b.add_u64_field(ID, INDEXED | FAST | STORED);
    b.add_text_field(TITLE, text.clone());
    b.add_text_field(DESCRIPTION, text.clone());
    b.add_text_field(VENUE_NAME, text.clone());
    b.add_text_field(ARTIST, text.clone());
    b.add_text_field(SUBCATEGORY_LABEL, text);
    b.add_text_field(CATEGORY, STRING | FAST | STORED);
    b.add_text_field(SUBCATEGORY, STRING | FAST | STORED);
    b.add_u64_field(VENUE_ID, fast_stored.clone());
    b.add_u64_field(OFFERER_ID, fast_stored.clone());
    b.add_f64_field(LAT, fast_stored.clone());
    b.add_f64_field(LON, fast_stored.clone());
    b.add_u64_field(H3, INDEXED);
    b.add_bool_field(DIGITAL, INDEXED);
    b.add_u64_field(PRICE, fast_stored.clone());
    b.add_bool_field(DUO, fast_stored.clone());
    b.add_bool_field(EVENT, fast_stored.clone());
    b.add_i64_field(BEGINS, fast_stored.clone());
    b.add_bool_field(SOLD_OUT, fast_stored.clone());
    b.add_u64_field(POPULARITY, fast_stored.clone());
    b.add_u64_field(REMAINING, fast_stored);
    b.build()
}

impl Fields {
    pub(crate) fn new(schema: &Schema) -> Result<Self, tantivy::TantivyError> {
        let f = |name| schema.get_field(name);
        Ok(Fields {
            id: f(ID)?,
            title: f(TITLE)?,
            description: f(DESCRIPTION)?,
            venue_name: f(VENUE_NAME)?,
            artist: f(ARTIST)?,
            subcategory_label: f(SUBCATEGORY_LABEL)?,
            category: f(CATEGORY)?,
            subcategory: f(SUBCATEGORY)?,
            venue_id: f(VENUE_ID)?,
            offerer_id: f(OFFERER_ID)?,
            lat: f(LAT)?,
            lon: f(LON)?,
            h3: f(H3)?,
            digital: f(DIGITAL)?,
            price: f(PRICE)?,
            duo: f(DUO)?,
            event: f(EVENT)?,
            begins: f(BEGINS)?,
            sold_out: f(SOLD_OUT)?,
            popularity: f(POPULARITY)?,
            remaining: f(REMAINING)?,
            text: TEXT_BOOSTS
                .iter()
                .map(|&(name, boost)| Ok((f(name)?, boost)))
                .collect::<Result<_, tantivy::TantivyError>>()?,
        })
    }
}
