//! Generating a world: offerers, venues, offers and stocks, then users replayed one by
//! one through twelve months of bookings against their credit and the stocks left.

use std::collections::{HashMap, HashSet};

use chrono::{Months, NaiveDate};
use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::geography::{cell, jitter, Places, FAR_DEPARTMENTS};
use super::lexicon::{Context, Lexicon};
use super::{Batch, SeedConfig, SeedSummary};
use crate::booking::{cap_shares, token_for, Collect};
use crate::credit::grants;
use crate::domain::{
    Booking, BookingStatus, Coordinates, Deposit, Interaction, InteractionKind, Offer, Offerer,
    Stock, Timestamp, User, Venue,
};
use crate::error::EngineError;
use crate::ids::{BookingId, DepositId, OfferId, OffererId, StockId, UserId, VenueId};
use crate::money::Cents;
use crate::taxonomy::{OfferKind, Subcategory, Taxonomy};

const DAY: i64 = 86_400;
/// Rows per emitted batch of offers; users go by [`USER_CHUNK`].
const OFFER_CHUNK: usize = 20_000;
const USER_CHUNK: usize = 5_000;
/// Booking draws per booking a user aims at; failed draws are retried this many times over.
const DRAWS_PER_WANTED: usize = 6;
/// How much higher than the profile's booking count users aim, to make up for failed draws.
const AIM_ABOVE_TARGET: f64 = 1.3;

/// An independent random stream per purpose and index, so that what one part draws
/// never shifts another.
fn stream(seed: u64, purpose: u64, index: u64) -> ChaCha8Rng {
    let mut z = seed
        ^ purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ index.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    ChaCha8Rng::seed_from_u64(z ^ (z >> 31))
}

struct StockSim {
    price: i64,
    quantity: Option<i64>,
    booked: i64,
    beginning_at: Option<Timestamp>,
    booking_limit_at: Option<Timestamp>,
}

struct OfferSim {
    subcategory: &'static Subcategory,
    digital: bool,
    is_duo: bool,
    stocks: std::ops::Range<usize>,
    /// The venue's place; `None` for digital offers.
    location: Option<Coordinates>,
}

/// What users can book: the offers, their stocks, and where they are.
struct Catalogue {
    offers: Vec<OfferSim>,
    stocks: Vec<StockSim>,
    /// Physical offers by grid cell and category.
    near: HashMap<(i32, i32, u8), Vec<u32>>,
    /// Digital offers by category.
    digital: Vec<Vec<u32>>,
}

impl Catalogue {
    /// A random offer of `category` in the 3×3 (or 5×5 when `wide`) cells around `home`.
    fn pick_near<R: Rng>(
        &self,
        home: Coordinates,
        category: u8,
        wide: bool,
        rng: &mut R,
    ) -> Option<u32> {
        let (y, x) = cell(home);
        let reach = if wide { 2 } else { 1 };
        let lists: Vec<&Vec<u32>> = (-reach..=reach)
            .flat_map(|dy| (-reach..=reach).map(move |dx| (y + dy, x + dx, category)))
            .filter_map(|k| self.near.get(&k))
            .collect();
        let total: usize = lists.iter().map(|l| l.len()).sum();
        if total == 0 {
            return None;
        }
        let mut i = rng.gen_range(0..total);
        for list in lists {
            if i < list.len() {
                return Some(list[i]);
            }
            i -= list.len();
        }
        None
    }

    fn pick_digital<R: Rng>(&self, category: u8, rng: &mut R) -> Option<u32> {
        self.digital[category as usize].choose(rng).copied()
    }
}

/// Generates the world of `cfg`, handing rows to `emit` in foreign-key order.
pub fn generate(
    cfg: &SeedConfig,
    taxonomy: &'static Taxonomy,
    emit: &mut dyn FnMut(Batch) -> Result<(), EngineError>,
) -> Result<SeedSummary, EngineError> {
    let lexicon = Lexicon::shipped()?;
    let places = Places::shipped()?;
    let sizes = cfg.profile.sizes();
    let now = cfg
        .today
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp();
    let mut summary = SeedSummary::default();
    let categories: Vec<&str> = taxonomy
        .categories()
        .iter()
        .map(|c| c.id.as_str())
        .filter(|c| *c != "TECHNIQUE")
        .collect();
    let category_index = |id: &str| categories.iter().position(|c| *c == id).unwrap_or(0) as u8;

    // Offerers.
    let mut rng = stream(cfg.seed, 1, 0);
    let kinds = [
        "Association",
        "Compagnie",
        "Société",
        "Collectif",
        "Maison",
        "Groupe",
    ];
    let offerers: Vec<Offerer> = (1..=sizes.offerers as i64)
        .map(|id| Offerer {
            id: OffererId(id),
            name: format!(
                "{} {}",
                kinds.choose(&mut rng).expect("kinds"),
                lexicon.word("last_name", &mut rng)
            ),
        })
        .collect();
    summary.offerers = offerers.len();
    for chunk in offerers.chunks(OFFER_CHUNK) {
        emit(Batch::Offerers(chunk.to_vec()))?;
    }

    // Venues: a few in Corsica and overseas whatever the size, the rest where people live.
    let mut type_weight: HashMap<&str, f64> = HashMap::new();
    for words in lexicon.subcategories.values() {
        for t in &words.venues {
            *type_weight.entry(t.as_str()).or_default() += words.weight / words.venues.len() as f64;
        }
    }
    let venue_types: Vec<&str> = lexicon
        .venue_types()
        .into_iter()
        .filter(|t| type_weight.contains_key(t))
        .collect();
    let type_pick = WeightedIndex::new(venue_types.iter().map(|t| type_weight[t]))
        .map_err(|e| EngineError::Data(format!("venue types: {e}")))?;
    let far = (sizes.venues * 3 / 100).max(FAR_DEPARTMENTS.len() * 3);
    let mut rng = stream(cfg.seed, 2, 0);
    let mut venues = Vec::with_capacity(sizes.venues);
    let mut venues_by_type: HashMap<&str, Vec<usize>> = HashMap::new();
    for i in 0..sizes.venues {
        let place = match i < far {
            true => places.sample_in(FAR_DEPARTMENTS[i % FAR_DEPARTMENTS.len()], &mut rng),
            false => None,
        }
        .unwrap_or_else(|| places.sample(&mut rng));
        // Far venues are spread over every type too, so each far department gets a cinema, a bookshop…
        let venue_type = if i < far {
            venue_types[(i / FAR_DEPARTMENTS.len()) % venue_types.len()]
        } else {
            venue_types[type_pick.sample(&mut rng)]
        };
        venues_by_type.entry(venue_type).or_default().push(i);
        venues.push(Venue {
            id: VenueId(i as i64 + 1),
            offerer_id: OffererId(rng.gen_range(1..=sizes.offerers as i64)),
            name: lexicon.venue_name(venue_type, &place.name, &mut rng),
            venue_type: venue_type.to_owned(),
            location: jitter(place.lat, place.lon, 2_000.0, &mut rng),
            department: place.department.clone(),
            city: place.name.clone(),
        });
    }
    summary.venues = venues.len();
    for chunk in venues.chunks(OFFER_CHUNK) {
        emit(Batch::Venues(chunk.to_vec()))?;
    }

    // Offers and stocks: every public subcategory at least once, then by weight.
    let subs: Vec<&'static Subcategory> = taxonomy.public_subcategories().collect();
    let sub_words: Vec<_> = subs
        .iter()
        .map(|s| {
            lexicon
                .subcategories
                .get(&s.id)
                .ok_or_else(|| EngineError::Data(format!("no words for {}", s.id)))
        })
        .collect::<Result<_, _>>()?;
    let sub_pick = WeightedIndex::new(sub_words.iter().map(|w| w.weight))
        .map_err(|e| EngineError::Data(format!("subcategory weights: {e}")))?;
    let mut catalogue = Catalogue {
        offers: Vec::with_capacity(sizes.offers),
        stocks: Vec::with_capacity(sizes.offers * 2),
        near: HashMap::new(),
        digital: vec![Vec::new(); categories.len()],
    };
    let mut rng = stream(cfg.seed, 3, 0);
    let (mut offers, mut stocks) = (Vec::new(), Vec::new());
    for i in 0..sizes.offers {
        let s = if i < subs.len() {
            i
        } else {
            sub_pick.sample(&mut rng)
        };
        let (sub, words) = (subs[s], sub_words[s]);
        let venue = words
            .venues
            .iter()
            .filter_map(|t| venues_by_type.get(t.as_str()))
            .collect::<Vec<_>>()
            .choose(&mut rng)
            .and_then(|list| list.choose(&mut rng))
            .map(|&v| &venues[v]);
        // Patterns may name a performer even where the offer records none (a livestream).
        let artist = lexicon.person(&mut rng);
        let ctx = Context {
            city: venue.map_or("France", |v| v.city.as_str()),
            venue: venue.map_or("", |v| v.name.as_str()),
            artist: &artist,
        };
        let title = lexicon.render(
            words.titles.choose(&mut rng).expect("titles"),
            &ctx,
            &mut rng,
        );
        let description = format!(
            "{} {}.",
            lexicon.description(&sub.category, &ctx, &mut rng),
            sub.label
        );
        let id = OfferId(i as i64 + 1);
        let is_event = sub.kind == OfferKind::Event;
        let is_duo = is_event && rng.gen_bool(0.5);
        let digital = sub.online;
        let first_stock = catalogue.stocks.len();
        let lines = if is_event { rng.gen_range(1..=3) } else { 1 };
        for _ in 0..lines {
            let price = if words.price[0] == 0 && rng.gen_bool(0.4) {
                0
            } else {
                rng.gen_range(words.price[0]..=words.price[1]) / 50 * 50
            };
            let (quantity, beginning_at) = if is_event {
                let days = if rng.gen_bool(0.3) {
                    rng.gen_range(-300..0)
                } else {
                    rng.gen_range(1..=120)
                };
                (
                    Some(rng.gen_range(20..=400)),
                    Some(now + days * DAY + rng.gen_range(14..=21) * 3_600),
                )
            } else if digital || rng.gen_bool(0.25) {
                (None, None)
            } else {
                (Some(rng.gen_range(5..=100)), None)
            };
            let stock_id = StockId(catalogue.stocks.len() as i64 + 1);
            let booking_limit_at = beginning_at.map(|b| b - 3 * DAY);
            stocks.push(Stock {
                id: stock_id,
                offer_id: id,
                price: Cents(price),
                quantity,
                booked: 0,
                beginning_at,
                booking_limit_at,
            });
            catalogue.stocks.push(StockSim {
                price,
                quantity,
                booked: 0,
                beginning_at,
                booking_limit_at,
            });
        }
        let category = category_index(&sub.category);
        match venue {
            Some(v) => catalogue
                .near
                .entry({
                    let (y, x) = cell(v.location);
                    (y, x, category)
                })
                .or_default()
                .push(i as u32),
            None => catalogue.digital[category as usize].push(i as u32),
        }
        catalogue.offers.push(OfferSim {
            subcategory: sub,
            digital,
            is_duo,
            stocks: first_stock..catalogue.stocks.len(),
            location: venue.map(|v| v.location),
        });
        offers.push(Offer {
            id,
            offerer_id: venue.map_or_else(
                || OffererId(rng.gen_range(1..=sizes.offerers as i64)),
                |v| v.offerer_id,
            ),
            venue_id: venue.map(|v| v.id),
            title,
            description,
            subcategory: sub.id.clone(),
            artist: words.artist.then_some(artist),
            url: digital.then(|| format!("https://offres.example.org/{}", id.0)),
            is_duo,
            is_active: true,
            created_at: now - rng.gen_range(30..=400) * DAY,
        });
        if offers.len() == OFFER_CHUNK || i + 1 == sizes.offers {
            summary.offers += offers.len();
            summary.stocks += stocks.len();
            emit(Batch::Offers(std::mem::take(&mut offers)))?;
            emit(Batch::Stocks(std::mem::take(&mut stocks)))?;
        }
    }

    // Users, their deposits and their history, a chunk at a time.
    // About a quarter of a user's draws fail (credit spent, caps, closed or sold-out
    // stocks, offers already booked): aiming that much higher lands the profile's size.
    let per_user = AIM_ABOVE_TARGET * sizes.bookings as f64 / sizes.users as f64;
    let interactions_per_booking = if sizes.bookings > 1_000_000 { 0.5 } else { 2.0 };
    let mut next_booking = 1i64;
    let mut next_deposit = 1i64;
    let mut chunk = UserChunk::default();
    for u in 1..=sizes.users as i64 {
        let mut rng = stream(cfg.seed, 4, u as u64);
        simulate_user(
            UserId(u),
            cfg.today,
            now,
            per_user,
            interactions_per_booking,
            &places,
            &catalogue,
            categories.len(),
            &mut next_booking,
            &mut next_deposit,
            &mut chunk,
            &mut rng,
        );
        // Stock counters move as users book; the catalogue is shared, hence the split borrow.
        for (s, q) in chunk.taken.drain(..) {
            catalogue.stocks[s].booked += q;
        }
        if chunk.users.len() == USER_CHUNK || u == sizes.users as i64 {
            summary.users += chunk.users.len();
            summary.deposits += chunk.deposits.len();
            summary.bookings += chunk.bookings.len();
            summary.interactions += chunk.interactions.len();
            emit(Batch::Users(std::mem::take(&mut chunk.users)))?;
            emit(Batch::Deposits(std::mem::take(&mut chunk.deposits)))?;
            emit(Batch::Bookings(std::mem::take(&mut chunk.bookings)))?;
            emit(Batch::Interactions(std::mem::take(&mut chunk.interactions)))?;
        }
    }

    let booked: Vec<(StockId, i64)> = catalogue
        .stocks
        .iter()
        .enumerate()
        .filter(|(_, s)| s.booked > 0)
        .map(|(i, s)| (StockId(i as i64 + 1), s.booked))
        .collect();
    for part in booked.chunks(50_000) {
        emit(Batch::StockBooked(part.to_vec()))?;
    }
    Ok(summary)
}

#[derive(Default)]
struct UserChunk {
    users: Vec<User>,
    deposits: Vec<Deposit>,
    bookings: Vec<(Booking, Option<Collect>)>,
    interactions: Vec<Interaction>,
    /// Places taken in this user's replay: (stock index, quantity).
    taken: Vec<(usize, i64)>,
}

#[allow(clippy::too_many_arguments)]
fn simulate_user<R: Rng>(
    id: UserId,
    today: NaiveDate,
    now: Timestamp,
    per_user: f64,
    interactions_per_booking: f64,
    places: &Places,
    catalogue: &Catalogue,
    category_count: usize,
    next_booking: &mut i64,
    next_deposit: &mut i64,
    out: &mut UserChunk,
    rng: &mut R,
) {
    // Aged 15 to 18 today.
    let earliest = today - Months::new(19 * 12) + chrono::Days::new(1);
    let latest = today - Months::new(15 * 12);
    let span = (latest - earliest).num_days();
    let birth = earliest + chrono::Days::new(rng.gen_range(0..=span) as u64);
    let place = places.sample(rng);
    let home = jitter(place.lat, place.lon, 5_000.0, rng);
    let fifteen = crate::credit::birthday(birth, 15)
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp();
    out.users.push(User {
        id,
        birth_date: birth,
        department: place.department.clone(),
        home,
        notifications_opt_in: rng.gen_bool(0.7),
        created_at: fifteen.max(now - 730 * DAY) + rng.gen_range(0..30) * DAY,
    });

    // Taste: some young people love one or two things, others a bit of everything.
    let mut taste: Vec<f64> = (0..category_count)
        .map(|_| -rng.gen::<f64>().max(1e-9).ln())
        .collect();
    if rng.gen_bool(0.4) {
        let favourites = rng.gen_range(1..=2);
        for _ in 0..favourites {
            let c = rng.gen_range(0..category_count);
            taste[c] += 8.0;
        }
    }
    let taste = WeightedIndex::new(&taste).expect("positive weights");
    let curiosity = rng.gen_range(0.03..0.25);

    let mut deposits: Vec<Deposit> = grants(birth, today)
        .into_iter()
        .map(|g| {
            let at = |d: NaiveDate| {
                d.and_hms_opt(0, 0, 0)
                    .expect("midnight")
                    .and_utc()
                    .timestamp()
            };
            Deposit {
                id: DepositId(0),
                user_id: id,
                policy: g.rule.policy.clone(),
                age: g.rule.age as i32,
                amount: g.rule.amount,
                spent: Cents::ZERO,
                digital_spent: Cents::ZERO,
                physical_spent: Cents::ZERO,
                carried_in: Cents::ZERO,
                closed: Cents::ZERO,
                digital_cap: g.rule.digital_cap,
                physical_cap: g.rule.physical_cap,
                granted_at: at(g.granted_on),
                expires_at: at(g.expires_on),
            }
        })
        .collect();
    for d in &mut deposits {
        d.id = DepositId(*next_deposit);
        *next_deposit += 1;
    }

    // How many bookings this user aims at; draws that fail (no credit left, sold out…)
    // are retried, up to `DRAWS_PER_WANTED` times as many draws as wanted.
    let wanted = ((-rng.gen::<f64>().max(1e-9).ln()) * per_user)
        .round()
        .min(60.0) as usize;
    let mut times: Vec<Timestamp> = (0..wanted * DRAWS_PER_WANTED)
        .map(|_| now - rng.gen_range(DAY..365 * DAY))
        .collect();
    times.sort_unstable();
    let mut made = 0;
    let mut active: Option<usize> = None;
    let mut next_grant = 0;
    let mut booked_offers: HashSet<u32> = HashSet::new();
    let mut taken_here: HashMap<usize, i64> = HashMap::new();
    for t in times {
        if made == wanted {
            break;
        }
        advance(&mut deposits, &mut active, &mut next_grant, t);
        let category = if rng.gen_bool(curiosity) {
            rng.gen_range(0..category_count)
        } else {
            taste.sample(rng)
        } as u8;
        let offer = if rng.gen_bool(0.12) {
            catalogue.pick_digital(category, rng)
        } else {
            catalogue
                .pick_near(home, category, rng.gen_bool(0.05), rng)
                .or_else(|| catalogue.pick_digital(category, rng))
        };
        let Some(offer_idx) = offer else { continue };
        if booked_offers.contains(&offer_idx) {
            continue;
        }
        let o = &catalogue.offers[offer_idx as usize];
        let quantity = if o.is_duo && rng.gen_bool(0.3) { 2 } else { 1 };
        let Some(s) = o.stocks.clone().find(|&s| {
            let st = &catalogue.stocks[s];
            let open =
                st.booking_limit_at.is_none_or(|l| t <= l) && st.beginning_at.is_none_or(|b| t < b);
            let left = st
                .quantity
                .map(|q| q - st.booked - taken_here.get(&s).copied().unwrap_or(0));
            open && left.is_none_or(|l| l >= quantity)
        }) else {
            continue;
        };
        let stock = &catalogue.stocks[s];
        let amount = Cents(stock.price * quantity);
        let (digital, physical) = cap_shares(&o.subcategory.id, o.digital, amount);
        let deposit = match (amount.0, active) {
            (0, _) => None,
            (_, Some(a)) => {
                let d = &deposits[a];
                let fits = t < d.expires_at
                    && d.remaining().0 >= amount.0
                    && d.digital_cap
                        .is_none_or(|c| d.digital_spent.0 + digital.0 <= c.0)
                    && d.physical_cap
                        .is_none_or(|c| d.physical_spent.0 + physical.0 <= c.0);
                if !fits {
                    continue;
                }
                Some(a)
            }
            (_, None) => continue,
        };
        let (status, cancelled_at, used_at) = outcome(stock.beginning_at, t, now, rng);
        let booking_id = BookingId(*next_booking);
        // A past event nobody validated at the door was marked used by the lifecycle job
        // 48 h after it started: a no-show, more likely the farther the venue.
        let used_at = match (status, stock.beginning_at, o.location) {
            (BookingStatus::Used, Some(start), Some(venue))
                if no_show(booking_id, indexer::haversine_m(home, venue)) =>
            {
                Some((start + 2 * DAY).min(now))
            }
            _ => used_at,
        };
        *next_booking += 1;
        made += 1;
        if status != BookingStatus::Cancelled {
            booked_offers.insert(offer_idx);
            *taken_here.entry(s).or_default() += quantity;
            if let Some(a) = deposit {
                let d = &mut deposits[a];
                d.spent = d.spent + amount;
                d.digital_spent = d.digital_spent + digital;
                d.physical_spent = d.physical_spent + physical;
            }
        }
        out.bookings.push((
            Booking {
                id: booking_id,
                user_id: id,
                stock_id: StockId(s as i64 + 1),
                offer_id: OfferId(offer_idx as i64 + 1),
                deposit_id: deposit.map(|a| deposits[a].id),
                quantity,
                amount,
                status,
                token: token_for(booking_id),
                created_at: t,
                cancelled_at,
                used_at,
            },
            Collect::of(&o.subcategory.id, stock.beginning_at),
        ));
        let looks = (interactions_per_booking * rng.gen::<f64>() * 2.0).round() as usize;
        for _ in 0..looks {
            let seen = catalogue
                .pick_near(home, category, false, rng)
                .unwrap_or(offer_idx);
            let kind = match rng.gen_range(0..10) {
                0..=5 => InteractionKind::View,
                6..=8 => InteractionKind::Click,
                _ => InteractionKind::Favorite,
            };
            out.interactions.push(Interaction {
                user_id: id,
                offer_id: OfferId(seen as i64 + 1),
                kind,
                at: (t - rng.gen_range(0..7 * DAY)).max(now - 365 * DAY),
            });
        }
    }
    advance(&mut deposits, &mut active, &mut next_grant, now);
    out.taken.extend(taken_here);
    out.deposits.extend(deposits);
}

/// Activates the deposits granted by `t`. Moving to a new deposit carries what is left
/// of the previous one over, and ends the previous one on that day.
fn advance(deposits: &mut [Deposit], active: &mut Option<usize>, next: &mut usize, t: Timestamp) {
    while *next < deposits.len() && deposits[*next].granted_at <= t {
        let granted_at = deposits[*next].granted_at;
        if let Some(a) = *active {
            let previous = &mut deposits[a];
            if previous.expires_at >= granted_at {
                let left = previous.remaining();
                previous.expires_at = granted_at;
                let new = &mut deposits[*next];
                new.carried_in = left;
                new.amount = new.amount + left;
            }
        }
        *active = Some(*next);
        *next += 1;
    }
}

/// Whether the holder of a booking of a past event stayed home: 4 % near home, rising
/// to 34 % at 60 km and beyond. Drawn from a hash of the booking id rather than the
/// user's random stream, so that no other draw of the world moves.
fn no_show(booking: BookingId, distance_m: f64) -> bool {
    let mut z = (booking.0 as u64) ^ 0x6E6F_2D73_686F_7773;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    let u = (z >> 11) as f64 / (1u64 << 53) as f64;
    u < 0.04 + 0.30 * (distance_m / 60_000.0).min(1.0)
}

/// What became of a booking made at `t`: (status, cancelled at, used at).
fn outcome<R: Rng>(
    start: Option<Timestamp>,
    t: Timestamp,
    now: Timestamp,
    rng: &mut R,
) -> (BookingStatus, Option<Timestamp>, Option<Timestamp>) {
    let cancelled = (
        BookingStatus::Cancelled,
        Some((t + rng.gen_range(0..48 * 3_600)).min(now)),
        None,
    );
    match start {
        Some(start) if start < now => {
            if rng.gen_bool(0.08) {
                cancelled
            } else {
                (BookingStatus::Used, None, Some(start))
            }
        }
        Some(_) => {
            if rng.gen_bool(0.05) {
                cancelled
            } else {
                (BookingStatus::Confirmed, None, None)
            }
        }
        None if t < now - 30 * DAY => {
            if rng.gen_bool(0.08) {
                cancelled
            } else {
                (
                    BookingStatus::Used,
                    None,
                    Some((t + rng.gen_range(1..=10) * DAY).min(now)),
                )
            }
        }
        None => match rng.gen_range(0..20) {
            0 => cancelled,
            1..=5 => (BookingStatus::Used, None, Some((t + DAY).min(now))),
            _ => (BookingStatus::Confirmed, None, None),
        },
    }
}
