//! French text analysis and the translation of user text into a query.
//!
//! User text is never handed to tantivy's query parser: it is run through the
//! same analyzer as the documents and the resulting terms are assembled into
//! a `BooleanQuery` of `TermQuery`s, so quotes, colons, brackets, `AND`/`OR`
//! and unbalanced parentheses are plain punctuation.

use std::str::CharIndices;

use tantivy::query::{BooleanQuery, BoostQuery, Occur, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, Stemmer, StopWordFilter,
    TextAnalyzer, Token, TokenStream, Tokenizer,
};
use tantivy::Term;

/// Name under which the French analyzer is registered on the index.
pub(crate) const FRENCH: &str = "fr";

/// Tokens longer than this (in bytes) are dropped: they are junk, not words.
const MAX_TOKEN_BYTES: usize = 40;

/// At most this many distinct terms of the user text are searched; the rest
/// of a very long text is ignored rather than building a huge query.
const MAX_TERMS: usize = 32;

/// Elided words that precede an apostrophe ("l'opéra", "qu'il", "jusqu'au").
const ELIDED: [&str; 13] = [
    "l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu", "quoiqu",
];

/// Function words removed at index and query time, so that "concert de jazz"
/// does not require "de". Kept short on purpose: broader lists hold real
/// search words ("son", "été", "pas").
const STOP_WORDS: [&str; 21] = [
    "le", "la", "les", "un", "une", "des", "du", "de", "au", "aux", "et", "ou", "à", "en", "pour",
    "par", "sur", "dans", "avec", "l", "d",
];

fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '’' | 'ʼ' | '‘' | '`' | '´')
}

/// Splits on anything that is not alphanumeric and drops elided articles and
/// pronouns written before an apostrophe.
#[derive(Clone, Default)]
pub(crate) struct FrenchTokenizer {
    token: Token,
}

pub(crate) struct FrenchTokenStream<'a> {
    text: &'a str,
    chars: CharIndices<'a>,
    token: &'a mut Token,
}

impl Tokenizer for FrenchTokenizer {
    type TokenStream<'a> = FrenchTokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> FrenchTokenStream<'a> {
        self.token.reset();
        FrenchTokenStream {
            text,
            chars: text.char_indices(),
            token: &mut self.token,
        }
    }
}

impl TokenStream for FrenchTokenStream<'_> {
    fn advance(&mut self) -> bool {
        self.token.text.clear();
        while let Some((from, c)) = self.chars.next() {
            if !c.is_alphanumeric() {
                continue;
            }
            let (to, next) = loop {
                match self.chars.next() {
                    Some((i, c)) if !c.is_alphanumeric() => break (i, Some(c)),
                    Some(_) => {}
                    None => break (self.text.len(), None),
                }
            };
            let word = &self.text[from..to];
            if next.is_some_and(is_apostrophe)
                && ELIDED.iter().any(|e| word.eq_ignore_ascii_case(e))
            {
                continue;
            }
            self.token.position = self.token.position.wrapping_add(1);
            self.token.offset_from = from;
            self.token.offset_to = to;
            self.token.text.push_str(word);
            return true;
        }
        false
    }

    fn token(&self) -> &Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        self.token
    }
}

/// The "fr" analyzer: split (with elision), drop junk-long tokens, lowercase,
/// drop function words, fold accents, stem.
///
/// Folding happens before stemming so that "theatre" typed without accents
/// and "Théâtre" end in the same term.
pub(crate) fn french_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(FrenchTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_TOKEN_BYTES))
        .filter(LowerCaser)
        .filter(StopWordFilter::remove(
            STOP_WORDS.iter().map(|w| w.to_string()),
        ))
        .filter(AsciiFoldingFilter)
        .filter(Stemmer::new(Language::French))
        .build()
}

/// Distinct analyzed terms of `text`, in order of first appearance, at most
/// [`MAX_TERMS`].
pub(crate) fn analyze(text: &str) -> Vec<String> {
    let mut analyzer = french_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut terms: Vec<String> = Vec::new();
    while terms.len() < MAX_TERMS && stream.advance() {
        let t = &stream.token().text;
        if !terms.contains(t) {
            terms.push(t.clone());
        }
    }
    terms
}

/// Builds the text query: each term may match in any field (scores of the
/// matching fields add up, weighted by the field boost); with `require_all`
/// every term must match, otherwise any one is enough.
pub(crate) fn text_query(
    terms: &[String],
    fields: &[(Field, f32)],
    require_all: bool,
) -> Box<dyn Query> {
    let occur = if require_all {
        Occur::Must
    } else {
        Occur::Should
    };
    let per_term = terms
        .iter()
        .map(|t| {
            let alternatives = fields
                .iter()
                .map(|&(field, boost)| {
                    let q = TermQuery::new(
                        Term::from_field_text(field, t),
                        IndexRecordOption::WithFreqs,
                    );
                    (
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(q), boost)) as Box<dyn Query>,
                    )
                })
                .collect();
            (
                occur,
                Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>,
            )
        })
        .collect();
    Box::new(BooleanQuery::new(per_term))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_stems_and_elides() {
        assert_eq!(analyze("Théâtre"), analyze("theatre"));
        assert_eq!(analyze("l'Opéra"), analyze("OPERA"));
        assert_eq!(analyze("l’opéra"), analyze("opéra"));
        assert_eq!(analyze("concerts"), analyze("concert"));
        assert_eq!(analyze("qu'il"), analyze("il"));
        assert!(analyze("le la de 🎭 \"'():").is_empty());
        assert_eq!(analyze("aujourd'hui").len(), 2);
    }

    #[test]
    fn caps_terms() {
        let text: String = (0..200).map(|i| format!("mot{i} ")).collect();
        assert_eq!(analyze(&text).len(), MAX_TERMS);
    }
}
