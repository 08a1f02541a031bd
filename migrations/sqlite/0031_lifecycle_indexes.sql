-- The booking lifecycle expires goods nobody collected and marks used the bookings of
-- events that started 48 h ago. It found both by joining every booking ever made to its
-- stock and offer: on the bench world's 10.9 million bookings, parallel scans of 1.8 and
-- 2.2 s with both cores busy, at every start and every ten minutes. Now each reads only
-- what waits for it.

-- Goods: the booking says which delay it must be collected within (engine::booking::
-- Collect), and a partial index holds the confirmed ones. Only confirmed bookings are
-- ever expired, so only they are filled in here, with the subcategories that were goods
-- (physical_good in datasets/taxonomy.csv) when this was written.
ALTER TABLE bookings ADD COLUMN collect TEXT CHECK (collect IN ('paper_book', 'good'));
UPDATE bookings SET collect = CASE offers.subcategory WHEN 'LIVRE_PAPIER' THEN 'paper_book' ELSE 'good' END
FROM offers, stocks
WHERE bookings.status = 'confirmed' AND offers.id = bookings.offer_id
  AND stocks.id = bookings.stock_id AND stocks.beginning_at IS NULL
  AND offers.subcategory IN ('LIVRE_PAPIER', 'LIVRE_AUDIO_PHYSIQUE', 'PARTITION',
    'SUPPORT_PHYSIQUE_FILM', 'SUPPORT_PHYSIQUE_MUSIQUE_CD', 'SUPPORT_PHYSIQUE_MUSIQUE_VINYLE',
    'CAPTATION_MUSIQUE', 'JEU_SUPPORT_PHYSIQUE', 'MATERIEL_ART_CREATIF', 'ACHAT_INSTRUMENT',
    'BON_ACHAT_INSTRUMENT', 'OEUVRE_ART');
CREATE INDEX bookings_to_collect ON bookings(created_at)
WHERE status = 'confirmed' AND collect IS NOT NULL;

-- Events: a stock records when the lifecycle settled its bookings. No booking can be
-- made once an event has started, so a settled stock never needs another look; the
-- partial index holds the events not yet settled, and the first run after this
-- migration settles every past one once.
ALTER TABLE stocks ADD COLUMN settled_at BIGINT;
CREATE INDEX stocks_to_settle ON stocks(beginning_at)
WHERE settled_at IS NULL AND beginning_at IS NOT NULL;
