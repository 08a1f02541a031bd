-- Core tables of Mosaic. Instants are unix seconds (BIGINT) so both dialects agree;
-- money is integer cents. CHECK constraints are the last line of defence against
-- overselling and overspending, behind the guarded UPDATEs of the booking code.

CREATE TABLE offerers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

CREATE TABLE venues (
    id INTEGER PRIMARY KEY,
    offerer_id BIGINT NOT NULL REFERENCES offerers(id),
    name TEXT NOT NULL,
    venue_type TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    department TEXT NOT NULL,
    city TEXT NOT NULL
);
CREATE INDEX venues_offerer ON venues(offerer_id);

CREATE TABLE offers (
    id INTEGER PRIMARY KEY,
    offerer_id BIGINT NOT NULL REFERENCES offerers(id),
    venue_id BIGINT REFERENCES venues(id),
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    subcategory TEXT NOT NULL,
    artist TEXT,
    url TEXT,
    is_duo BOOLEAN NOT NULL,
    is_active BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- A physical offer has a venue, a digital one a URL.
    CHECK (venue_id IS NOT NULL OR url IS NOT NULL)
);
CREATE INDEX offers_venue ON offers(venue_id);
CREATE INDEX offers_offerer ON offers(offerer_id);

CREATE TABLE stocks (
    id INTEGER PRIMARY KEY,
    offer_id BIGINT NOT NULL REFERENCES offers(id),
    price_cents BIGINT NOT NULL CHECK (price_cents >= 0),
    quantity BIGINT CHECK (quantity >= 0),
    booked BIGINT NOT NULL DEFAULT 0 CHECK (booked >= 0),
    beginning_at BIGINT,
    booking_limit_at BIGINT,
    is_deleted BOOLEAN NOT NULL DEFAULT FALSE,
    CHECK (quantity IS NULL OR booked <= quantity)
);
CREATE INDEX stocks_offer ON stocks(offer_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    birth_date TEXT NOT NULL,
    department TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    notifications_opt_in BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE deposits (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    policy TEXT NOT NULL,
    age INTEGER NOT NULL,
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    spent_cents BIGINT NOT NULL DEFAULT 0,
    digital_spent_cents BIGINT NOT NULL DEFAULT 0,
    physical_spent_cents BIGINT NOT NULL DEFAULT 0,
    digital_cap_cents BIGINT,
    physical_cap_cents BIGINT,
    granted_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    CHECK (spent_cents >= 0 AND spent_cents <= amount_cents),
    CHECK (digital_spent_cents >= 0 AND (digital_cap_cents IS NULL OR digital_spent_cents <= digital_cap_cents)),
    CHECK (physical_spent_cents >= 0 AND (physical_cap_cents IS NULL OR physical_spent_cents <= physical_cap_cents))
);
CREATE INDEX deposits_user ON deposits(user_id, granted_at);

CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    stock_id BIGINT NOT NULL REFERENCES stocks(id),
    offer_id BIGINT NOT NULL REFERENCES offers(id),
    deposit_id BIGINT REFERENCES deposits(id),
    quantity BIGINT NOT NULL CHECK (quantity IN (1, 2)),
    amount_cents BIGINT NOT NULL CHECK (amount_cents >= 0),
    status TEXT NOT NULL CHECK (status IN ('confirmed', 'used', 'cancelled')),
    token TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    cancelled_at BIGINT,
    used_at BIGINT
);
CREATE INDEX bookings_user ON bookings(user_id, created_at);
CREATE INDEX bookings_stock ON bookings(stock_id);
-- One booking that is not cancelled per user and offer, even under concurrency.
CREATE UNIQUE INDEX bookings_one_active ON bookings(user_id, offer_id) WHERE status <> 'cancelled';

CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id),
    offer_id BIGINT NOT NULL REFERENCES offers(id),
    kind TEXT NOT NULL CHECK (kind IN ('view', 'click', 'favorite')),
    at BIGINT NOT NULL
);
CREATE INDEX interactions_user ON interactions(user_id, at);
