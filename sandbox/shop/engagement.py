"""Email and on-site behaviour of one chunk of simulated people.

Grain: `consent` has one row per consent change; `events` one row per Klaviyo event (email and
site activity); `checkouts` one row per abandoned checkout, `checkout_lines` one row per its item.
Times are float days since the store's start.

Email: weekly campaigns reach people who are subscribed and not suppressed at send time. Opens
follow each person's engagement (lower once they have silently dropped out as customers), clicks
follow opens, and a few sends end in a bounce, an unsubscribe or a spam complaint, which change
consent for every later campaign. Site: views, add-to-carts and checkouts precede each order;
abandoned checkouts and browsing happen while a person is still an active customer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.shop.behaviour import draw_basket
from sandbox.shop.catalogue import METRIC_INDEX, Catalogue

ACCEPTS_AT_CHECKOUT, ACCEPTS_AT_NEWSLETTER, LATER_OPT_IN = 0.55, 0.95, 0.10
HARD_BOUNCE_ADDRESS_SHARE, SOFT_BOUNCE_RATE = 0.006, 0.003
UNSUBSCRIBE_BASE, SPAM_RATE = 0.0015, 0.0002
MINUTE = 1 / 1440


def _events(metric: str, person: np.ndarray, t: np.ndarray, **extra) -> pd.DataFrame:
    frame = pd.DataFrame({"person_index": person, "t": t, "metric_index": METRIC_INDEX[metric]})
    for name, values in extra.items():
        frame[name] = values
    return frame


def email_activity(rng, people: pd.DataFrame, campaigns: pd.DataFrame, email_ok: np.ndarray):
    """Consent changes and email events for one chunk, campaign by campaign in time order."""
    n = len(people)
    signup = people["signup_t"].to_numpy()
    engagement = people["email_engagement"].to_numpy()
    dropout_t = np.nan_to_num(people["dropout_t"].to_numpy(), nan=np.inf)
    taste = people[[c for c in people.columns if c.startswith("taste_")]].to_numpy()

    accepts = rng.random(n) < np.where(
        people["signup_at_checkout"].to_numpy(), ACCEPTS_AT_CHECKOUT, ACCEPTS_AT_NEWSLETTER
    )
    later = ~accepts & (rng.random(n) < LATER_OPT_IN)
    subscribed_from = np.where(accepts, signup, np.inf)
    subscribed_from[later] = signup[later] + rng.exponential(200, later.sum())
    consent = [
        pd.DataFrame(
            {
                "person_index": np.flatnonzero(accepts | later),
                "t": subscribed_from[accepts | later],
                "state": "SUBSCRIBED",
                "method": np.where(
                    later[accepts | later],
                    "Preference Page",
                    np.where(people["signup_at_checkout"].to_numpy(), "Checkout", "Signup Form")[
                        accepts | later
                    ],
                ),
                "suppression": None,
            }
        )
    ]
    stopped = np.full(n, np.inf)  # unsubscribed or suppressed from this time on
    bad_address = rng.random(n) < HARD_BOUNCE_ADDRESS_SHARE
    frames = []
    for campaign_id, sent, theme in campaigns[
        ["campaign_id", "sent_offset_days", "category_index"]
    ].itertuples(index=False):
        reach = np.flatnonzero((subscribed_from <= sent) & (sent < stopped) & email_ok)
        if not reach.size:
            continue
        at = sent + rng.uniform(0, 40, reach.size) * MINUTE
        hard = bad_address[reach]
        soft = ~hard & (rng.random(reach.size) < SOFT_BOUNCE_RATE)
        bounced = hard | soft
        frames.append(
            _events(
                "Bounced Email",
                reach[bounced],
                at[bounced] + MINUTE,
                campaign_id=campaign_id,
                detail=np.where(hard[bounced], "hard", "soft"),
            )
        )
        stopped[reach[hard]] = at[hard] + MINUTE
        got = reach[~bounced]
        at = at[~bounced]
        frames.append(_events("Received Email", got, at, campaign_id=campaign_id))

        alive_factor = np.where(dropout_t[got] > sent, 1.0, 0.45)
        appeal = 0.7 + 0.6 * taste[got, theme]
        opened = rng.random(got.size) < np.clip(engagement[got] * alive_factor * appeal, 0, 0.95)
        open_at = at[opened] + rng.exponential(0.35, opened.sum()) + 2 * MINUTE
        frames.append(_events("Opened Email", got[opened], open_at, campaign_id=campaign_id))
        clicked = rng.random(opened.sum()) < 0.10 + 0.25 * engagement[got[opened]]
        frames.append(
            _events(
                "Clicked Email",
                got[opened][clicked],
                open_at[clicked] + rng.uniform(0.2, 5, clicked.sum()) * MINUTE,
                campaign_id=campaign_id,
            )
        )
        unsubscribe = rng.random(got.size) < UNSUBSCRIBE_BASE * (2 - engagement[got] * 2)
        spam = ~unsubscribe & (rng.random(got.size) < SPAM_RATE)
        for metric, mask, reason in (
            ("Unsubscribed from Email Marketing", unsubscribe, "UNSUBSCRIBE"),
            ("Marked Email as Spam", spam, "SPAM_COMPLAINT"),
        ):
            leave_at = at[mask] + rng.uniform(5, 600, mask.sum()) * MINUTE
            frames.append(_events(metric, got[mask], leave_at, campaign_id=campaign_id))
            stopped[got[mask]] = leave_at
            consent.append(
                pd.DataFrame(
                    {
                        "person_index": got[mask],
                        "t": leave_at,
                        "state": "UNSUBSCRIBED",
                        "method": "Unsubscribe Link"
                        if reason == "UNSUBSCRIBE"
                        else "Spam Complaint",
                        "suppression": reason,
                    }
                )
            )
    hard_bounced = np.flatnonzero(bad_address & np.isfinite(stopped))
    consent.append(
        pd.DataFrame(
            {
                "person_index": hard_bounced,
                "t": stopped[hard_bounced],
                "state": None,
                "method": "Hard Bounce",
                "suppression": "HARD_BOUNCE",
            }
        )
    )
    return pd.concat(consent, ignore_index=True), pd.concat(frames, ignore_index=True)


def site_activity(
    rng,
    catalogue: Catalogue,
    people: pd.DataFrame,
    orders: pd.DataFrame,
    lines: pd.DataFrame,
    end_t: float,
):
    """Site events around orders, abandoned checkouts, and browsing while a customer is active."""
    taste = people[[c for c in people.columns if c.startswith("taste_")]].to_numpy()
    rate = people["purchase_rate"].to_numpy()
    signup = people["signup_t"].to_numpy()
    active_until = np.minimum(np.nan_to_num(people["dropout_t"].to_numpy(), nan=end_t), end_t)
    span = np.maximum(active_until - signup, 0)
    frames = []

    order_t = orders["t"].to_numpy()
    person = orders["person_index"].to_numpy()
    first_line = lines.drop_duplicates("order_index")
    product = catalogue.products["product_id"].to_numpy()[first_line["product_row"].to_numpy()]
    frames.append(
        _events(
            "Started Checkout",
            person,
            order_t - rng.uniform(2, 20, len(person)) * MINUTE,
            value=orders["total_price"].to_numpy(),
        )
    )
    frames.append(
        _events(
            "Added to Cart",
            person,
            order_t - rng.uniform(21, 90, len(person)) * MINUTE,
            product_id=product,
        )
    )
    frames.append(
        _events(
            "Viewed Product",
            person,
            order_t - rng.uniform(95, 2880, len(person)) * MINUTE,
            product_id=product,
        )
    )
    frames.append(
        _events(
            "Placed Order",
            person,
            order_t,
            value=orders["total_price"].to_numpy(),
            order_index=np.arange(len(orders)),
        )
    )

    n_abandoned = rng.poisson(0.35 * rate * span + 0.02 * (span > 0))
    who = np.repeat(np.arange(len(people)), n_abandoned)
    at = signup[who] + rng.random(who.size) * span[who]
    n_items = 1 + (rng.random(who.size) < 0.3)
    basket, product_row = draw_basket(rng, catalogue, taste[who], n_items)
    quantity = rng.integers(1, 3, basket.size)
    price = catalogue.price[product_row]
    checkouts = pd.DataFrame(
        {
            "person_index": who,
            "t": at,
            "total_price": np.round(
                np.bincount(basket, weights=quantity * price, minlength=who.size), 2
            ),
        }
    )
    checkout_lines = pd.DataFrame(
        {
            "checkout_index": basket,
            "product_row": product_row,
            "quantity": quantity,
            "unit_price": price,
        }
    )
    first = (
        product[:0]
        if not who.size
        else catalogue.products["product_id"].to_numpy()[
            product_row[np.r_[0, np.flatnonzero(np.diff(basket)) + 1]]
        ]
    )
    frames.append(_events("Started Checkout", who, at, value=checkouts["total_price"].to_numpy()))
    frames.append(
        _events("Added to Cart", who, at - rng.uniform(3, 30, who.size) * MINUTE, product_id=first)
    )
    frames.append(
        _events(
            "Viewed Product", who, at - rng.uniform(31, 240, who.size) * MINUTE, product_id=first
        )
    )

    n_views = rng.poisson(1.2 * rate * span + 0.01 * span * people["email_engagement"].to_numpy())
    viewer = np.repeat(np.arange(len(people)), n_views)
    _, viewed_row = draw_basket(rng, catalogue, taste[viewer], np.ones(viewer.size, dtype=int))
    frames.append(
        _events(
            "Viewed Product",
            viewer,
            signup[viewer] + rng.random(viewer.size) * span[viewer],
            product_id=catalogue.products["product_id"].to_numpy()[viewed_row],
        )
    )
    events = pd.concat(frames, ignore_index=True)
    return events[events["t"] < end_t], checkouts, checkout_lines


def no_activity():
    """Consent, email events, site events, checkouts and checkout lines of a shop without any.

    A shop known only from its order export has no email or site data at all.
    """
    index, times = np.array([], dtype=np.int64), np.array([], dtype=float)
    consent = pd.DataFrame(
        {"person_index": index, "t": times, "state": [], "method": [], "suppression": []}
    )
    events = pd.DataFrame({"person_index": index, "t": times, "metric_index": index})
    checkouts = pd.DataFrame({"person_index": index, "t": times, "total_price": times})
    checkout_lines = pd.DataFrame(
        {"checkout_index": index, "product_row": index, "quantity": index, "unit_price": times}
    )
    return consent, events, events.copy(), checkouts, checkout_lines
