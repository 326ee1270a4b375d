"""What each simulated shop sells: categories (product types) with their products and prices.

Grain: one `Category` per product type; `products` holds (title, price) per product, one variant
each. `taste` is the Dirichlet concentration of that category in customers' taste: small values
give customers one clear favourite, and a falling sequence gives the shop a long tail.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Category:
    """One product type of a shop."""

    name: str
    taste: float
    vendor: str
    products: tuple[tuple[str, float], ...]


COFFEE = (
    Category(
        "coffee",
        0.55,
        "Foresight Roasters",
        (
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
        ),
    ),
    Category(
        "tea",
        0.40,
        "Foresight Tea Co",
        (
            ("Darjeeling First Flush 100g", 14.0),
            ("Sencha Green 100g", 11.0),
            ("Earl Grey 100g", 9.5),
            ("Chamomile Herbal 50g", 8.0),
            ("Assam Breakfast 250g", 12.0),
            ("Jasmine Pearls 100g", 17.0),
            ("Rooibos Vanilla 100g", 9.0),
            ("Matcha Ceremonial 30g", 24.0),
        ),
    ),
    Category(
        "equipment",
        0.14,
        "Foresight Tea Co",
        (
            ("Pour-over Dripper", 28.0),
            ("Burr Grinder", 119.0),
            ("Gooseneck Kettle", 69.0),
            ("French Press 1L", 35.0),
            ("Paper Filters x100", 7.0),
            ("Glass Teapot", 32.0),
        ),
    ),
    Category(
        "gifts",
        0.10,
        "Foresight Tea Co",
        (
            ("Tasting Gift Set", 45.0),
            ("Gift Card $25", 25.0),
            ("Ceramic Mug Pair", 30.0),
            ("Tea Advent Calendar", 39.0),
        ),
    ),
)

PET_SUPPLIES = (
    Category(
        "food",
        1.2,
        "Pantry Kitchen",
        (
            ("Dry Dog Food 6kg", 34.0),
            ("Dry Cat Food 3kg", 21.0),
            ("Wet Cat Food 12x85g", 9.5),
            ("Grain-free Dog Food 10kg", 52.0),
            ("Senior Dog Food 6kg", 36.0),
        ),
    ),
    Category(
        "treats",
        0.6,
        "Pantry Kitchen",
        (("Dental Chews x28", 12.0), ("Salmon Bites 200g", 6.5), ("Catnip Crunchies", 4.0)),
    ),
    Category(
        "litter",
        0.5,
        "Clean Paws",
        (("Clumping Litter 10L", 14.0), ("Pine Pellets 15kg", 18.0), ("Litter Liners x20", 5.0)),
    ),
    Category(
        "toys",
        0.2,
        "Clean Paws",
        (("Rope Tug", 8.0), ("Feather Wand", 6.0), ("Puzzle Feeder", 19.0)),
    ),
    Category(
        "health",
        0.15,
        "Clean Paws",
        (("Flea Drops x3", 24.0), ("Joint Supplement 90 tabs", 28.0)),
    ),
)

FASHION = (
    Category(
        "dresses",
        0.50,
        "Atelier Studio",
        (("Linen Midi Dress", 89.0), ("Wrap Dress", 75.0), ("Slip Dress", 65.0)),
    ),
    Category(
        "tops",
        0.40,
        "Atelier Studio",
        (("Cotton Tee", 25.0), ("Silk Blouse", 79.0), ("Striped Breton", 39.0)),
    ),
    Category(
        "jeans",
        0.30,
        "Atelier Denim",
        (("Straight Jeans", 95.0), ("Wide-leg Jeans", 99.0), ("Denim Shorts", 49.0)),
    ),
    Category(
        "knitwear",
        0.20,
        "Atelier Studio",
        (("Merino Crew", 85.0), ("Cashmere Cardigan", 189.0)),
    ),
    Category(
        "outerwear",
        0.12,
        "Atelier Studio",
        (("Trench Coat", 229.0), ("Quilted Jacket", 149.0)),
    ),
    Category(
        "shoes",
        0.08,
        "Atelier Footwear",
        (("Leather Loafers", 139.0), ("Canvas Sneakers", 69.0), ("Ankle Boots", 179.0)),
    ),
    Category(
        "accessories",
        0.05,
        "Atelier Studio",
        (("Silk Scarf", 45.0), ("Leather Belt", 55.0), ("Tote Bag", 65.0)),
    ),
    Category(
        "swimwear",
        0.03,
        "Atelier Studio",
        (("Swimsuit", 69.0), ("Bikini Set", 59.0)),
    ),
)
