"""The simulated shop's fixed world: product catalogue, metrics, names and the campaign calendar.

Everything here is deterministic from the shape and the store seed; the simulator draws customers
against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sandbox.shop.shapes import ShopShape

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


@dataclass(frozen=True)
class Catalogue:
    """Products (one variant each) with the category index the simulator draws against."""

    products: pd.DataFrame  # product_id, variant_id, title, product_type, vendor, sku, price, ...
    category_of: np.ndarray  # category index per product row
    price: np.ndarray
    rows_by_category: tuple[np.ndarray, ...]
    taste_concentration: np.ndarray  # Dirichlet concentration of taste, one per category


def build_catalogue(rng: np.random.Generator, shape: ShopShape) -> Catalogue:
    """The shop's products; creation dates sit before the store's first day (offsets in days)."""
    rows = []
    for category_index, category in enumerate(shape.categories):
        for title, price in category.products:
            n = len(rows)
            rows.append(
                {
                    "product_id": 8_000_000_000_000 + 1_000 * (n + 1),
                    "variant_id": 45_000_000_000_000 + 1_000 * (n + 1),
                    "title": title,
                    "product_type": category.name,
                    "vendor": category.vendor,
                    "sku": f"{category.name[:3].upper()}-{n + 1:03d}",
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
        rows_by_category=tuple(
            np.flatnonzero(category_of == c) for c in range(len(shape.categories))
        ),
        taste_concentration=np.array([category.taste for category in shape.categories]),
    )


def campaign_calendar(total_days: float, shape: ShopShape) -> pd.DataFrame:
    """Weekly newsletters at 15:00 UTC over the whole simulated span (offsets in days from start).

    The theme rotates through the categories so category interest shows up in opens and clicks.
    """
    times = np.arange(1.0 + 15 / 24, total_days, 7.0)
    themes = [shape.campaign_themes[i % len(shape.campaign_themes)] for i in range(len(times))]
    return pd.DataFrame(
        {
            "campaign_id": np.arange(1, len(times) + 1),
            "sent_offset_days": times,
            "name": [f"{theme} #{i + 1}" for i, (theme, _) in enumerate(themes)],
            "category_index": [shape.category_names.index(category) for _, category in themes],
        }
    )
