-- A feed reads its user's latest bookings and interactions with each offer's title and
-- subcategory: some 45 offers for a user of the bench world, each looked up in the
-- primary key and then read from the table, where those two columns sit beside the long
-- description. Most of the statement's pages were these lookups, for a user not seen
-- recently read from past PostgreSQL's buffers. With both columns in the index an offer
-- is read from the index alone (PostgreSQL's index-only scan; SQLite's covering index):
-- in PostgreSQL the statement's CPU fell by a fifth, 0.19 to 0.155 ms, on 10,000 bench
-- users, for an index of 73 MB beside the 207 MB table. Titles are at most 140
-- characters (engine::partner), well within an index entry.
CREATE INDEX IF NOT EXISTS offers_history ON offers(id, subcategory, title);
