"""The simulated shop's fixed world: product catalogue, metrics, names and the campaign calendar.

Everything here is deterministic from the store seed; the simulator draws customers against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SHOP_NAME = "Foresight Coffee & Tea (sandbox)"
SHOP_DOMAIN = "foresight-coffee.example"
CURRENCY = "USD"

CATEGORIES = ("coffee", "tea", "equipment", "gifts")
# Dirichlet concentration of category taste: small values give customers one clear favourite.
TASTE_CONCENTRATION = np.array([0.55, 0.40, 0.14, 0.10])

_PRODUCTS = {
    "coffee": [
        ("Ethiopia Yirgacheffe 250g", 16.0),
        ("Colombia Huila 250g", 14.0),
        ("House Espresso 1kg", 38.0),
        ("Decaf Swiss Water 250g", 15.0),
        ("Kenya AA 250g", 18.0),
        ("Brazil Cerrado 500g", 22.0),
        ("Guatemala Antigua 250g", 15.5),
        ("Cold Brew Blend 500g", 21.0),
        ("Sumatra Mandheling 250g", 16.5),
        ("Coffee Subscription Box", 29.0),
    ],
    "tea": [
        ("Darjeeling First Flush 100g", 14.0),
        ("Sencha Green 100g", 11.0),
        ("Earl Grey 100g", 9.5),
        ("Chamomile Herbal 50g", 8.0),
        ("Assam Breakfast 250g", 12.0),
        ("Jasmine Pearls 100g", 17.0),
        ("Rooibos Vanilla 100g", 9.0),
        ("Matcha Ceremonial 30g", 24.0),
    ],
    "equipment": [
        ("Pour-over Dripper", 28.0),
        ("Burr Grinder", 119.0),
        ("Gooseneck Kettle", 69.0),
        ("French Press 1L", 35.0),
        ("Paper Filters x100", 7.0),
        ("Glass Teapot", 32.0),
    ],
    "gifts": [
        ("Tasting Gift Set", 45.0),
        ("Gift Card $25", 25.0),
        ("Ceramic Mug Pair", 30.0),
        ("Tea Advent Calendar", 39.0),
    ],
}

# Klaviyo metrics, in the order the simulator refers to them by index.
METRICS = (
    ("Received Email", "Klaviyo", "Internal"),
    ("Opened Email", "Klaviyo", "Internal"),
    ("Clicked Email", "Klaviyo", "Internal"),
    ("Bounced Email", "Klaviyo", "Internal"),
    ("Unsubscribed from Email Marketing", "Klaviyo", "Internal"),
    ("Marked Email as Spam", "Klaviyo", "Internal"),
    ("Viewed Product", "Shopify", "Ecommerce"),
    ("Added to Cart", "Shopify", "Ecommerce"),
    ("Started Checkout", "Shopify", "Ecommerce"),
    ("Placed Order", "Shopify", "Ecommerce"),
)
METRIC_INDEX = {name: i for i, (name, _, _) in enumerate(METRICS)}

FIRST_NAMES = tuple(
    "Olivia Liam Emma Noah Ava Oliver Sophia Elijah Mia James Amelia William Harper Lucas "
    "Evelyn Henry Abigail Theodore Ella Jack Sofia Levi Camila Alexander Aria Jackson "
    "Scarlett Mateo Luna Daniel Chloe Michael Layla Mason Zoe Sebastian Nora Ethan Lily "
    "Logan Hannah Owen Grace Samuel Aisha Jacob Priya Asher Mei Aiden Yuki Leo Fatima Isaac "
    "Ines Hugo".split()
)
LAST_NAMES = tuple(
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Kim Patel Chen".split()
)
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "proton.me")

CAMPAIGN_THEMES = (
    ("New single-origin arrivals", "coffee"),
    ("Tea of the month", "tea"),
    ("Brew better at home", "equipment"),
    ("Gifts they will love", "gifts"),
    ("Weekly roast notes", "coffee"),
    ("Slow mornings with tea", "tea"),
)


@dataclass(frozen=True)
class Catalogue:
    """Products (one variant each) with the category index the simulator draws against."""

    products: pd.DataFrame  # product_id, variant_id, title, product_type, vendor, sku, price, ...
    category_of: np.ndarray  # category index per product row
    price: np.ndarray
    rows_by_category: tuple[np.ndarray, ...]


def build_catalogue(rng: np.random.Generator) -> Catalogue:
    """The shop's products; creation dates sit before the store's first day (offsets in days)."""
    rows = []
    for category_index, category in enumerate(CATEGORIES):
        for title, price in _PRODUCTS[category]:
            n = len(rows)
            rows.append(
                {
                    "product_id": 8_000_000_000_000 + 1_000 * (n + 1),
                    "variant_id": 45_000_000_000_000 + 1_000 * (n + 1),
                    "title": title,
                    "product_type": category,
                    "vendor": "Foresight Roasters" if category == "coffee" else "Foresight Tea Co",
                    "sku": f"{category[:3].upper()}-{n + 1:03d}",
                    "price": price,
                    "category_index": category_index,
                    "created_offset_days": -float(rng.uniform(30, 400)),
                }
            )
    products = pd.DataFrame(rows)
    category_of = products["category_index"].to_numpy()
    return Catalogue(
        products=products,
        category_of=category_of,
        price=products["price"].to_numpy(),
        rows_by_category=tuple(np.flatnonzero(category_of == c) for c in range(len(CATEGORIES))),
    )


def campaign_calendar(total_days: float) -> pd.DataFrame:
    """Weekly newsletters at 15:00 UTC over the whole simulated span (offsets in days from start).

    The theme rotates through the categories so category interest shows up in opens and clicks.
    """
    times = np.arange(1.0 + 15 / 24, total_days, 7.0)
    themes = [CAMPAIGN_THEMES[i % len(CAMPAIGN_THEMES)] for i in range(len(times))]
    return pd.DataFrame(
        {
            "campaign_id": np.arange(1, len(times) + 1),
            "sent_offset_days": times,
            "name": [f"{theme} #{i + 1}" for i, (theme, _) in enumerate(themes)],
            "category_index": [CATEGORIES.index(category) for _, category in themes],
        }
    )
