# Writes diversification.ipynb: the notebook is generated so that its cells stay reviewable as code.
# Usage: python3 notebooks/make_notebook.py notebooks/diversification.ipynb
import json, sys
cells = []
def md(s): cells.append({"cell_type": "markdown", "metadata": {}, "source": s.strip("\n").splitlines(keepends=True)})
def code(s): cells.append({"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": s.strip("\n").splitlines(keepends=True)})

md("""
# Diversification of cultural practice

What analysts look at: how many categories young people book and how evenly (entropy, in bits),
how that grows after their first booking, by age and territory; how concentrated bookings and
exposure are on a few venues; no-shows by distance; push campaigns; and, when present, the
offline evaluation (`mosaic eval`) and the feedback-loop simulation (`mosaic simulate`).

Inputs are the exports of `mosaic analytics --out DIR` (Parquet), found through `MOSAIC_ANALYTICS`.
Every cell checks the columns it reads, so a change of the exports breaks this notebook loudly in CI.
""")
code("""
import os
from pathlib import Path

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
import polars as pl

DATA = Path(os.environ.get("MOSAIC_ANALYTICS", "../data/analytics"))
EVAL = Path(os.environ.get("MOSAIC_EVAL", "../data/eval"))
SIMULATE = Path(os.environ.get("MOSAIC_SIMULATE", "../data/simulation"))
FIGURES = Path(os.environ.get("MOSAIC_FIGURES", "out"))
FIGURES.mkdir(parents=True, exist_ok=True)

def table(name, columns):
    df = pl.read_parquet(DATA / f"{name}.parquet")
    missing = set(columns) - set(df.columns)
    assert not missing, f"{name}: missing columns {missing}"
    return df

def save(fig, name):
    fig.tight_layout()
    fig.savefig(FIGURES / f"{name}.png", dpi=100)
    plt.close(fig)
""")
md("## Per user: breadth and evenness")
code("""
users = table("users", ["user_id", "age", "department", "region", "bookings", "distinct_categories", "category_entropy", "first_booking_month"])
bookers = users.filter(pl.col("bookings") > 0)
print(f"{users.height} users, {bookers.height} with bookings")
print(bookers.select(
    pl.col("distinct_categories").mean().alias("mean distinct categories"),
    pl.col("category_entropy").mean().alias("mean entropy (bits)"),
    (pl.col("distinct_categories") >= 3).mean().alias("share with 3+ categories"),
))
fig, ax = plt.subplots(figsize=(7, 3.5))
counts = bookers.group_by("distinct_categories").len().sort("distinct_categories")
ax.bar(counts["distinct_categories"].to_list(), counts["len"].to_list())
ax.set_xlabel("distinct categories booked"); ax.set_ylabel("users"); ax.set_title("Breadth of practice")
save(fig, "breadth")
""")
md("## Over time")
code("""
since = table("since_first_booking", ["months_since_first_booking", "users", "mean_distinct_categories"])
months = table("by_month", ["month", "bookings", "active_users", "share_new_category"])
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
followed = since.filter(pl.col("users") > 0)
a.plot(followed["months_since_first_booking"].to_list(), followed["mean_distinct_categories"].to_list(), marker="o")
a.set_xlabel("months since first booking"); a.set_ylabel("mean distinct categories"); a.set_title("Breadth grows with time")
b.bar(months["month"].to_list(), months["share_new_category"].to_list())
b.set_ylabel("share of bookings in a new category"); b.set_title("Bookings outside habits, by month")
b.tick_params(axis="x", rotation=60)
save(fig, "over_time")
months
""")
md("## By age and territory")
code("""
cols = ["users", "users_with_bookings", "bookings", "mean_distinct_categories", "mean_category_entropy", "share_3plus_categories"]
by_age = table("by_age", ["age", *cols])
by_region = table("by_region", ["region", *cols]).sort("share_3plus_categories", nulls_last=False)
by_department = table("by_department", ["department", *cols])
fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 2]})
a.bar([str(x) for x in by_age["age"].to_list()], by_age["mean_distinct_categories"].fill_null(0).to_list())
a.set_xlabel("age"); a.set_ylabel("mean distinct categories"); a.set_title("By age")
b.barh(by_region["region"].to_list(), by_region["share_3plus_categories"].fill_null(0).to_list())
b.set_xlabel("share of bookers with 3+ categories"); b.set_title("By region")
save(fig, "territory")
print(by_department.filter(pl.col("users_with_bookings") > 0).sort("mean_distinct_categories").head(5))
by_age
""")
md("## Concentration, coverage and no-shows")
code("""
concentration = table("concentration", ["measure", "value"])
print(concentration)
no_shows = table("no_show_by_distance", ["distance_band", "event_bookings", "no_shows", "no_show_rate"])
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(no_shows["distance_band"].to_list(), no_shows["no_show_rate"].fill_null(0).to_list())
ax.set_ylabel("no-show rate"); ax.set_title("No-shows by distance between home and venue")
save(fig, "no_shows")
no_shows
""")
md("## Offers and campaigns (for partners)")
code("""
offers = table("offers", ["offer_id", "offerer_id", "title", "category", "views", "bookings", "bookings_per_view"])
print(offers.sort("bookings", descending=True).head(10).select("offer_id", "title", "category", "views", "bookings"))
campaigns = table("campaigns", ["campaign_id", "offer_id", "status", "targeted", "sent", "failed", "new_to_category", "bookings_attributed", "conversion"])
campaigns
""")
md("## Accuracy against diversity (`mosaic eval`)")
code("""
eval_csv = EVAL / "eval.csv"
if eval_csv.exists():
    ev = pl.read_csv(eval_csv)
    missing = {"method", "ndcg_at_20", "category_entropy", "exposure_gini"} - set(ev.columns)
    assert not missing, f"eval.csv: missing {missing}"
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(ev["category_entropy"].to_list(), ev["ndcg_at_20"].to_list())
    for m, x, y in zip(ev["method"].to_list(), ev["category_entropy"].to_list(), ev["ndcg_at_20"].to_list()):
        ax.annotate(m, (x, y))
    ax.set_xlabel("category entropy of lists (bits)"); ax.set_ylabel("nDCG@20"); ax.set_title("Accuracy vs diversity")
    save(fig, "eval")
    display(ev)
else:
    print(f"no {eval_csv}: run `mosaic eval` to add the accuracy/diversity table")
""")
md("## Feedback loop (`mosaic simulate`)")
code("""
sim_csv = SIMULATE / "simulation.csv"
if sim_csv.exists():
    sim = pl.read_csv(sim_csv)
    missing = {"month", "pipeline", "distinct_categories_per_user", "booked_category_entropy"} - set(sim.columns)
    assert not missing, f"simulation.csv: missing {missing}"
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.5))
    for (pipeline,), part in sim.group_by(["pipeline"], maintain_order=True):
        part = part.sort("month")
        a.plot(part["month"].to_list(), part["distinct_categories_per_user"].to_list(), label=pipeline)
        b.plot(part["month"].to_list(), part["booked_category_entropy"].to_list(), label=pipeline)
    a.set_title("Distinct categories per user"); b.set_title("Entropy of booked categories (bits)")
    a.set_xlabel("month"); b.set_xlabel("month"); a.legend()
    save(fig, "simulation")
else:
    print(f"no {sim_csv}: run `mosaic simulate` to add the feedback-loop curves")
""")

nb = {"cells": cells, "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
      "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 5}
for i, c in enumerate(nb["cells"]):
    c["id"] = f"cell-{i}"
json.dump(nb, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
