//! Hostile search text: never a panic, never an internal error.

mod common;

use common::{offer, rng};
use indexer::{IndexError, OfferIndex, Query, MAX_QUERY_CHARS};
use rand::Rng;

fn index() -> OfferIndex {
    let index = OfferIndex::in_ram().unwrap();
    index
        .upsert([
            offer(1, "Opéra : « Carmen » (Bizet)"),
            offer(2, "Concert AND OR NOT"),
        ])
        .unwrap();
    index.commit().unwrap();
    index
}

fn search(index: &OfferIndex, text: &str) -> Result<indexer::SearchResults, IndexError> {
    index.search(&Query {
        text: Some(text.to_string()),
        facets: true,
        ..Query::default()
    })
}

#[test]
fn query_syntax_is_plain_words() {
    let index = index();
    let cases: &[(&str, &[u64])] = &[
        ("\"opéra", &[1]),
        ("\"opéra\"", &[1]),
        ("title:opéra", &[1]),
        ("[opéra]", &[1]),
        ("{opéra TO carmen}", &[1]),
        // "and"/"or" are words like others: no offer has all three, so any
        // word matches, offer 1 (two words) first.
        ("opéra AND carmen", &[1, 2]),
        ("opéra OR", &[1, 2]),
        ("opéra carmen", &[1]),
        ("(((opéra", &[1]),
        ("opéra)))", &[1]),
        ("opéra^10", &[1]),
        ("opéra~2", &[1]),
        ("+opéra -carmen", &[1]),
        ("carm*", &[]),
        ("AND", &[2]),
        ("NOT", &[2]),
        ("\\opéra/", &[1]),
        ("opéra🎭", &[1]),
    ];
    for (text, expected) in cases {
        let got: Vec<u64> = search(&index, text)
            .unwrap()
            .hits
            .iter()
            .map(|h| h.id)
            .collect();
        assert_eq!(&got, expected, "{text:?}");
    }
}

#[test]
fn junk_never_fails() {
    let index = index();
    let fixed = [
        "(((",
        ")))",
        ":",
        "::::",
        "\"",
        "\"\"\"",
        "[",
        "]",
        "{}",
        "*",
        "?",
        "~",
        "^",
        "\\",
        "/",
        "\0",
        "'",
        "’’’",
        "l'",
        "qu'",
        "🎭🎶🎬",
        "👩‍👩‍👧‍👦",
        "\u{200B}\u{200D}\u{FEFF}",
        "\u{202E}abc",
        "𝕆𝕡𝕖𝕣𝕒",
        "日本語",
        "مرحبا",
        "ǅ",
        "ﬁ",
        "Ⅻ",
        "\u{0301}\u{0301}",
        "a\u{0301}",
        "-",
        "+",
        "!",
        "&&",
        "||",
        "NOT NOT",
    ];
    for text in fixed {
        search(&index, text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    let mut rng = rng(99);
    for _ in 0..300 {
        let len = rng.gen_range(0..=MAX_QUERY_CHARS);
        let text: String = (0..len)
            .map(|_| match rng.gen_range(0..4) {
                0 => rng.gen_range(' '..='~'),
                1 => rng.gen_range('\u{80}'..='\u{2FFF}'),
                2 => rng.gen_range('\u{1F300}'..='\u{1FAFF}'),
                _ => char::from_u32(rng.gen_range(0..0x11_0000)).unwrap_or('?'),
            })
            .collect();
        assert!(text.chars().count() <= MAX_QUERY_CHARS);
        search(&index, &text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
}

#[test]
fn too_long_text_is_bad_input() {
    let index = index();
    let mut rng = rng(1);
    let junk: String = (0..10_240).map(|_| rng.gen_range('!'..='~')).collect();
    let err = search(&index, &junk).unwrap_err();
    assert!(matches!(err, IndexError::QueryTooLong { .. }), "{err}");
    assert!(err.is_bad_input());
    // The limit counts characters, not bytes.
    let at_limit = "é".repeat(MAX_QUERY_CHARS);
    search(&index, &at_limit).unwrap();
    let over = "é".repeat(MAX_QUERY_CHARS + 1);
    assert!(search(&index, &over).unwrap_err().is_bad_input());
}
