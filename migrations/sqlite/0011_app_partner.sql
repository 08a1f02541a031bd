-- Favorites a user can add and remove (each addition is also a 'favorite' interaction),
-- and the indexes the partner pages need to count per offer.
CREATE TABLE favorites (
    user_id BIGINT NOT NULL REFERENCES users(id),
    offer_id BIGINT NOT NULL REFERENCES offers(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, offer_id)
);
CREATE INDEX interactions_offer ON interactions(offer_id, kind);
CREATE INDEX bookings_offer ON bookings(offer_id);
