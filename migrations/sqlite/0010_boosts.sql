-- Editorial boosts: a curator lifts (or lowers) an offer, a venue, a subcategory, or the
-- offers matching a search phrase in feeds, with a weight, for a time window.
CREATE TABLE boosts (
    id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('offer', 'venue', 'subcategory', 'phrase')),
    -- The offer or venue id in decimal, the subcategory id, or the phrase.
    target TEXT NOT NULL,
    -- Added to an offer's feed score; the ranking's scores are of order 1.
    weight DOUBLE PRECISION NOT NULL CHECK (weight >= -1 AND weight <= 1 AND weight <> 0),
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    note TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- Set when a curator expires the boost before its end.
    expired_at BIGINT,
    CHECK (ends_at > starts_at)
);
CREATE INDEX boosts_ends ON boosts(ends_at);
