-- What changed since an instant, for the index refresh (Store::changed_offers): without
-- these, each refresh would scan every booking.
CREATE INDEX offers_updated ON offers(updated_at);
CREATE INDEX bookings_created ON bookings(created_at);
CREATE INDEX bookings_cancelled ON bookings(cancelled_at);
CREATE INDEX bookings_used ON bookings(used_at);
CREATE INDEX stocks_limit ON stocks(booking_limit_at);
CREATE INDEX stocks_beginning ON stocks(beginning_at);
