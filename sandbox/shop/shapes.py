"""Shop shapes: the kinds of shop the sandbox can simulate, each a preset of the store's world.

A shape fixes what a real shop would own: its categories and products, currency, name,
seasonality of acquisition, channel mix (signing up at checkout or through the newsletter form,
in-store POS orders) and its customers' buying behaviour. The store is a pure function of
(shape, customers, start, days, seed); `default` is the original coffee shop, unchanged.

Shapes (grain: one `ShopShape` per name in `SHAPES`):
- `default`: a growing coffee & tea shop, four categories, USD, holiday peak, email and site data.
- `csv_cohort`: one acquisition cohort in the first three months, 18 months of history, no email
  or site data and an order export without categories (the shop is known from its CSV only).
- `replenishment`: pet supplies bought on a rhythm: high repeat, short and regular gaps, GBP.
- `fashion`: low repeat, eight product types with a long tail, EUR, spring and autumn seasons.
- `whales`: a few very large buyers among ordinary ones: heavy-tailed spend.
- `young`: the coffee shop four months after opening.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.shop.assortments import COFFEE, FASHION, PET_SUPPLIES, Category


@dataclass(frozen=True)
class SeasonalPeak:
    """A bump in acquisition around a day of the year (a Gaussian `width_days` wide)."""

    day_of_year: int
    width_days: float
    height: float


@dataclass(frozen=True)
class ShopShape:
    """Everything about a kind of shop that the simulator draws against."""

    name: str
    shop_name: str
    shop_domain: str
    currency: str
    categories: tuple[Category, ...]
    campaign_themes: tuple[tuple[str, str], ...]  # (subject, category name), sent in rotation
    default_days: int = 730
    # Acquisition: weight grows linearly by `growth` over the history, times seasonal peaks;
    # with `cohort_days` everyone signs up within the first that many days.
    growth: float = 1.0
    peaks: tuple[SeasonalPeak, ...] = (SeasonalPeak(335, 18.0, 0.8),)
    cohort_days: int | None = None
    # Channel mix: signups at first checkout (the rest via the newsletter form), POS orders.
    signup_at_checkout_share: float = 0.65
    pos_order_share: float = 0.1
    email_and_site_data: bool = True
    csv_has_categories: bool = True
    # Behaviour (see `behaviour`): Gamma purchase rate; gaps between orders are Erlang with
    # `gap_regularity` phases (1 = Poisson, larger = more regular); Beta dropout; Gamma-Gamma spend.
    purchase_rate_shape: float = 0.9
    purchase_rate_mean: float = 1 / 45
    gap_regularity: int = 1
    dropout_a: float = 1.3
    dropout_b: float = 3.2
    spend_shape: float = 5.0
    spend_rate_shape: float = 4.0
    spend_rate_scale: float = 1 / 22.0
    # Whales: this share of people spends `whale_spend_multiple` times their drawn level.
    whale_share: float = 0.0
    whale_spend_multiple: float = 1.0
    max_units_per_line: int = 8
    description: str = field(default="", compare=False)

    @property
    def category_names(self) -> tuple[str, ...]:
        return tuple(category.name for category in self.categories)


_COFFEE_THEMES = (
    ("New single-origin arrivals", "coffee"),
    ("Tea of the month", "tea"),
    ("Brew better at home", "equipment"),
    ("Gifts they will love", "gifts"),
    ("Weekly roast notes", "coffee"),
    ("Slow mornings with tea", "tea"),
)
_COFFEE_SHOP = {
    "shop_name": "Foresight Coffee & Tea (sandbox)",
    "shop_domain": "foresight-coffee.example",
    "currency": "USD",
    "categories": COFFEE,
    "campaign_themes": _COFFEE_THEMES,
}

SHAPES: dict[str, ShopShape] = {
    shape.name: shape
    for shape in (
        ShopShape(name="default", description="growing coffee & tea shop", **_COFFEE_SHOP),
        ShopShape(
            name="csv_cohort",
            description="one early cohort, order CSV only, no categories",
            **_COFFEE_SHOP,
            default_days=540,
            growth=0.0,
            peaks=(),
            cohort_days=90,
            email_and_site_data=False,
            csv_has_categories=False,
            purchase_rate_mean=1 / 35,
            dropout_a=1.0,
            dropout_b=5.0,
        ),
        ShopShape(
            name="replenishment",
            description="pet supplies on a rhythm: high repeat, short regular gaps",
            shop_name="Foresight Pet Pantry (sandbox)",
            shop_domain="foresight-pets.example",
            currency="GBP",
            categories=PET_SUPPLIES,
            campaign_themes=(
                ("Time to restock the bowl", "food"),
                ("Treat Tuesday", "treats"),
                ("Fresh litter, happy home", "litter"),
                ("New toys to chase", "toys"),
            ),
            peaks=(SeasonalPeak(5, 12.0, 0.4),),
            signup_at_checkout_share=0.8,
            pos_order_share=0.0,
            purchase_rate_shape=4.0,
            purchase_rate_mean=1 / 28,
            gap_regularity=4,
            dropout_a=1.0,
            dropout_b=14.0,
            spend_rate_shape=8.0,
            spend_rate_scale=1 / 40.0,
        ),
        ShopShape(
            name="fashion",
            description="low repeat, eight product types with a long tail, EUR",
            shop_name="Foresight Atelier (sandbox)",
            shop_domain="foresight-atelier.example",
            currency="EUR",
            categories=FASHION,
            campaign_themes=(
                ("The new season edit", "dresses"),
                ("Denim you will live in", "jeans"),
                ("Layer up", "knitwear"),
                ("Finishing touches", "accessories"),
                ("Walk this way", "shoes"),
            ),
            growth=0.5,
            peaks=(SeasonalPeak(85, 20.0, 0.6), SeasonalPeak(270, 20.0, 0.7)),
            signup_at_checkout_share=0.8,
            pos_order_share=0.25,
            purchase_rate_shape=0.7,
            purchase_rate_mean=1 / 150,
            dropout_a=2.0,
            dropout_b=2.5,
            spend_rate_scale=1 / 60.0,
        ),
        ShopShape(
            name="whales",
            description="a few very large buyers: heavy-tailed spend",
            **{**_COFFEE_SHOP, "shop_name": "Foresight Coffee Trade (sandbox)"},
            spend_rate_shape=2.5,
            whale_share=0.01,
            whale_spend_multiple=30.0,
            max_units_per_line=200,
        ),
        ShopShape(
            name="young",
            description="the coffee shop four months after opening",
            **_COFFEE_SHOP,
            default_days=120,
            growth=3.0,
        ),
    )
}
DEFAULT_SHAPE = "default"


def shape_named(name: str) -> ShopShape:
    """The shape called `name`; a clear error names the known ones."""
    try:
        return SHAPES[name]
    except KeyError:
        raise ValueError(f"unknown shop shape {name!r}; known: {', '.join(SHAPES)}") from None
