# Sourced by benches/load.sh and benches/pgo.sh: draws the load test's requests from the
# store, one per line as benches/load/replay.lua reads them (METHOD, PATH and an optional
# JSON body, tab-separated).
#
#   draw_requests DIR N SALT
#
# writes DIR/feed.tsv, DIR/search.tsv and DIR/offer.tsv, N requests each, and
# DIR/booking.tsv, up to 3 N. Rows are drawn in the order of a hash of their id and SALT:
# the load test's salt is its seed; the PGO training's is another, so that the build is
# not trained on the very requests it is measured with. Expects `psql_db` and `log`.
draw_requests() {
    local dir=$1 n=$2 salt=$3
    local now day users
    now=$(date +%s)
    draw() { psql_db -F $'\t' -c "$1" > "$2"; }
    log "drawing $n requests per family from the store"
    # Feed: users at home (70 %) or at a venue's place; pages 1 (60 %), 2 (25 %) and 3 (15 %),
    # each later page from a user who asked for the page before it, at the same place, about
    # 800 requests later (half a second to a few seconds, depending on the rate). A later page's
    # cursor is `offset.day.shown-ids` (engine/src/feed.rs); wrk cannot carry a page's
    # next_cursor to the next request, so pages 2 and 3 name today's ranking and no shown ids:
    # the same offers and the same work as following the cursor.
    day=$((now / 86400))
    users=$((n * 3 / 5))
    draw "WITH u AS (SELECT id FROM users ORDER BY md5(id::text || '$salt') LIMIT $users),
               v AS (SELECT lat, lon, row_number() OVER () - 1 AS rn FROM
                     (SELECT lat, lon FROM venues ORDER BY md5(id::text || '$salt') LIMIT $users) x),
               ur AS (SELECT id, (row_number() OVER () - 1) % (SELECT count(*) FROM v) AS rn,
                             row_number() OVER () AS i FROM u)
          SELECT '/v1/feed?user_id=' || ur.id || '&limit=20'
                 || CASE WHEN ur.i % 10 < 3 THEN '&lat=' || round(v.lat::numeric, 5) || '&lon=' || round(v.lon::numeric, 5) ELSE '' END
          FROM ur JOIN v USING (rn)" "$dir/feed-users.tsv"
    python3 - "$dir/feed-users.tsv" "$day" "$n" > "$dir/feed.tsv" <<'PY'
import sys
firsts = [line.rstrip("\n") for line in open(sys.argv[1])]
day, n = sys.argv[2], int(sys.argv[3])
gap = 500  # users between a user's page and their next one
later = []  # (due at user, request)
for j, path in enumerate(firsts):
    # Of every 12 users, 5 ask for page 2 and 3 of those for page 3: 60/25/15 of the pages.
    if j % 12 < 5:
        later.append((j + gap, f"{path}&cursor=20.{day}."))
    if j % 12 < 3:
        later.append((j + 2 * gap, f"{path}&cursor=40.{day}."))
later.sort(key=lambda due: due[0])
due = 0
lines = []
for j, path in enumerate(firsts):
    lines.append(path)
    while due < len(later) and later[due][0] <= j:
        lines.append(later[due][1])
        due += 1
lines += [request for _, request in later[due:]]
for line in lines[:n]:
    print(f"GET\t{line}")
PY
    # Search: the first one or two words of a title, around a venue, 2–50 km, a fifth with
    # categories (percent-encoded by Python: titles have accents).
    draw "SELECT o.title, v.lat, v.lon FROM
              (SELECT * FROM offers WHERE venue_id IS NOT NULL ORDER BY md5(id::text || '$salt') LIMIT $n) o
              JOIN venues v ON v.id = o.venue_id" "$dir/titles.tsv"
    python3 - "$dir/titles.tsv" > "$dir/search.tsv" <<'PY'
import re, sys
from urllib.parse import urlencode
for i, line in enumerate(open(sys.argv[1], encoding="utf-8")):
    title, lat, lon = line.rstrip("\n").split("\t")
    words = re.findall(r"[^\W\d_]+", title.lower())[: 1 + i % 2] or ["concert"]
    params = {"q": " ".join(words), "lat": f"{float(lat):.5f}", "lon": f"{float(lon):.5f}",
              "radius_km": 2 + i % 49, "limit": 20}
    if i % 5 == 0:
        params["category"] = "LIVRE,CINEMA"
    print(f"GET\t/v1/search?{urlencode(params)}")
PY
    # Offer detail.
    draw "SELECT 'GET', '/v1/offers/' || id FROM offers WHERE is_active ORDER BY md5(id::text || '$salt') LIMIT $n" \
        "$dir/offer.tsv"
    # Bookings, three times as many (the paced runs book too: a quarter, a half and three
    # quarters of the booking run's rate for 10 s each, 24,000 at 1,600/s): distinct users with
    # at least 20 € left, physical stocks of at most 20 € with 50+ places, bookable for days
    # yet; pairs the user has not booked. Row numbers are given after each side's draw:
    # numbered before it, the two sides shared only ~n²/users numbers (76 pairs of 5,000).
    draw "WITH s AS (SELECT st.id, st.offer_id, row_number() OVER () AS rn FROM
                     (SELECT st.id, st.offer_id FROM stocks st JOIN offers o ON o.id = st.offer_id
                      WHERE o.is_active AND NOT st.is_deleted AND o.venue_id IS NOT NULL AND o.url IS NULL
                        AND st.price_cents <= 2000 AND (st.quantity IS NULL OR st.quantity - st.booked >= 50)
                        AND (st.beginning_at IS NULL OR st.beginning_at > $now + 3 * 86400)
                        AND (st.booking_limit_at IS NULL OR st.booking_limit_at > $now + 86400)
                      ORDER BY md5(st.id::text || '$salt') LIMIT $((3 * n))) st),
               u AS (SELECT user_id, row_number() OVER () AS rn FROM
                     (SELECT user_id FROM
                       (SELECT DISTINCT ON (user_id) user_id FROM deposits
                        WHERE expires_at > $now + 86400 AND granted_at <= $now
                          AND amount_cents - spent_cents - closed_cents >= 2000
                          AND (physical_cap_cents IS NULL OR physical_cap_cents - physical_spent_cents >= 2000)
                        ORDER BY user_id) d
                      ORDER BY md5(user_id::text || '$salt' || '$now') LIMIT $((3 * n))) du)
          SELECT 'POST', '/v1/bookings', json_build_object('user_id', u.user_id, 'stock_id', s.id, 'quantity', 1)
          FROM s JOIN u USING (rn)
          WHERE NOT EXISTS (SELECT 1 FROM bookings b WHERE b.user_id = u.user_id AND b.offer_id = s.offer_id)" \
        "$dir/booking.tsv"
}
