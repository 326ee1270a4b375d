"""Contact details of simulated people, with the dirt real shop data carries.

Grain: one row per person (names, emails as Klaviyo and Shopify hold them, phone, email state).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sandbox.shop.catalogue import EMAIL_DOMAINS, FIRST_NAMES, LAST_NAMES


def contact_details(rng, people: pd.DataFrame, dirt: float) -> pd.DataFrame:
    """Names, emails and phones, including the realistic dirt a real shop's data has."""
    n = len(people)
    pid = people["person_id"].to_numpy()
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    domain = np.array(EMAIL_DOMAINS)[rng.integers(0, len(EMAIL_DOMAINS), n)]
    local = np.char.add(np.char.add(np.char.lower(first), "."), np.char.lower(last))
    local = np.char.add(local, pid.astype(str))
    email = np.char.add(np.char.add(local, "@"), domain).astype(object)
    u = rng.random(n)
    state = np.where(u < dirt * 0.25, "missing", np.where(u < dirt * 0.4, "invalid", "ok"))
    email[state == "invalid"] = np.char.add(local[state == "invalid"], "@gmail").astype(object)
    email[state == "missing"] = None
    # Shoppers type their address as they like; Klaviyo stores it lower-cased.
    shopify_email = email.copy()
    typed = (state == "ok") & (rng.random(n) < 2 * dirt)
    shopify_email[typed] = [e[:1].upper() + e[1:] for e in shopify_email[typed]]
    unnamed = rng.random(n) < 0.08
    phone = np.where(rng.random(n) < 0.3, [f"+1555{p % 10_000_000:07d}" for p in pid], None)
    return people.assign(
        email=email,
        shopify_email=shopify_email,
        email_state=state,
        first_name=np.where(unnamed, None, first),
        last_name=np.where(unnamed, None, last),
        phone=phone,
    )


def email_variant(rng, emails: np.ndarray) -> list[str]:
    """The same address typed differently: case and stray whitespace."""
    kinds = rng.integers(0, 3, len(emails))
    forms = (str.upper, lambda e: f" {e} ", lambda e: e.capitalize() + " ")
    return [forms[k](e) for k, e in zip(kinds, emails, strict=True)]
