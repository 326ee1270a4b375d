"""The records a sync passes around: desired contacts, planned writes, and their outcomes.

Grain: one `DesiredContact` per customer (what the destination should hold for them); one
`PropertyWrite` per contact whose properties changed; one `Member` per contact × group change;
one `Outcome` per contact × action a destination acknowledged, failed or skipped.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd

Action = Literal["set_properties", "add_to_group", "remove_from_group"]
Status = Literal["ok", "error", "skipped"]


@dataclass(frozen=True)
class DesiredContact:
    """What one customer should look like in a destination.

    `contact_id` is the destination's own id when known (Klaviyo profile id), else None and the
    destination matches by `email`. `segments` are the groups the person should be in (holdout
    members already left out by the caller); consent decides whether they may join any.
    """

    customer_id: str
    email: str | None
    contact_id: str | None
    can_receive_email_marketing: bool
    properties: Mapping[str, Any]
    segments: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Member:
    """A contact to add to or remove from a group; at least one of email and contact_id."""

    customer_id: str
    email: str | None
    contact_id: str | None


@dataclass(frozen=True)
class PropertyWrite:
    """Properties to set on a contact, with the hash the ledger stores once acknowledged."""

    customer_id: str
    email: str | None
    contact_id: str | None
    properties: Mapping[str, Any]
    properties_hash: str


@dataclass(frozen=True)
class Outcome:
    """What happened to one contact × action; `contact_id` is the destination's id when known.

    `error` is plain language without emails or keys: it goes to the ledger.
    """

    customer_id: str
    status: Status
    contact_id: str | None = None
    error: str | None = None


def canonical_properties(customer_id: str, properties: Mapping[str, Any]) -> dict[str, Any]:
    """Properties as JSON values: dates become ISO strings, numpy values Python ones and pandas'
    missing values null; anything else that is not a JSON scalar or a list of scalars is a
    `ValueError` naming the customer and the property."""
    clean: dict[str, Any] = {}
    for name, value in properties.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"customer {customer_id}: property names must be non-empty strings")
        if isinstance(value, list | tuple | np.ndarray):
            clean[name] = [_scalar(customer_id, name, item) for item in value]
        else:
            clean[name] = _scalar(customer_id, name, value)
    return clean


def properties_hash(properties: Mapping[str, Any]) -> str:
    """A stable hash of what a marketer acts on in canonical properties (`change_signature`):
    a write is planned only when it differs, so daily re-scoring noise rewrites nobody."""
    text = json.dumps(
        change_signature(properties), sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    return hashlib.sha256(text.encode()).hexdigest()


# Property names (by suffix) whose synced value moves a little every day although nothing a
# marketer acts on changed, and how large a move counts: a probability by 10 points, a money
# forecast by a step of 25% (log scale), a predicted date by a week, reasons by what they say
# rather than their figures or order ("quiet for 87%…" and "quiet for 88%…" are one reason; a
# date in a reason counts in full, since it moves only when something happened). Measured from
# the reasons synced, a list changes when its strongest reason came or went, or more than one of
# the others did: weaker reasons trade places as near-equal contributions wobble from day to
# day, which a marketer has no use for. Where a score came from (when, which model or fallback)
# changes nothing by itself: a fallback's version names its day. The full values still travel
# with every write.
PROBABILITY_STEP = 0.1
MONEY_STEP = 1.25
DATE_STEP_DAYS = 7
_IGNORED_SUFFIXES = ("scored_at", "model_version", "score_source")
_DATE_OR_FIGURE = re.compile(r"\d{4}-\d{2}-\d{2}|\d[\d,.]*")
# A move just under a full step is not one: float sums like 0.3 - 0.2 fall a hair short of 0.1.
_TOLERANCE = 1e-9


def change_signature(properties: Mapping[str, Any]) -> dict[str, Any]:
    """The canonical properties as coarse as a marketer reads them (see the rules above); its
    hash is what the ledger compares when it knows no synced values (`materially_changed`)."""
    signature: dict[str, Any] = {}
    for name, value in properties.items():
        if name.endswith(_IGNORED_SUFFIXES):
            continue
        if isinstance(value, bool) or value is None:
            signature[name] = value
        elif name.endswith("_probability") and isinstance(value, int | float):
            signature[name] = round(round(value / PROBABILITY_STEP) * PROBABILITY_STEP, 2)
        elif name.endswith("_predicted") and isinstance(value, int | float):
            signature[name] = round(math.log(value) / math.log(MONEY_STEP)) if value > 0 else 0
        elif name.endswith("_reasons") and isinstance(value, list):
            signature[name] = _reasons_said(value)
        elif name.endswith("_date") and isinstance(value, str) and len(value) == 10:
            year, week, _ = date.fromisoformat(value).isocalendar()
            signature[name] = f"{year}-W{week:02d}"
        else:
            signature[name] = value
    return signature


def materially_changed(synced: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    """True when a marketer would see a change between the canonical properties last synced
    and the desired ones: a probability moved a full step, a money forecast a full step (log
    scale), a date a week, reasons say something else, any other value differs.

    Measured from what was synced, not on a fixed grid: a score drifting a little each day
    across a grid line (0.249 to 0.251) rewrote the profile although nothing moved, and a score
    wobbling around a line rewrote it day after day.
    """
    for name in synced.keys() | desired.keys():
        if name.endswith(_IGNORED_SUFFIXES):
            continue
        if _moved(name, synced.get(name), desired.get(name)):
            return True
    return False


def _moved(name: str, old: Any, new: Any) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (old, new))
    if numbers and name.endswith("_probability"):
        return abs(new - old) >= PROBABILITY_STEP - _TOLERANCE
    if numbers and name.endswith("_predicted"):
        if old <= 0 or new <= 0:
            return (old > 0) != (new > 0)
        return abs(math.log(new / old)) >= math.log(MONEY_STEP) - _TOLERANCE
    dates = all(isinstance(v, str) and len(v) == 10 for v in (old, new))
    if dates and name.endswith("_date"):
        apart = date.fromisoformat(new) - date.fromisoformat(old)
        return abs(apart.days) >= DATE_STEP_DAYS
    if name.endswith("_reasons") and isinstance(old, list) and isinstance(new, list):
        return _reasons_moved(old, new)
    return old != new


def _reasons_moved(old: list, new: list) -> bool:
    """The strongest reason (listed first) came or went, or more than one of the others was
    replaced (reasons that trade places, or one swapped for another, are no change)."""
    said_old, said_new = [_said(v) for v in old], [_said(v) for v in new]
    if not said_old or not said_new:
        return said_old != said_new
    if said_old[0] not in said_new or said_new[0] not in said_old:
        return True
    return len(set(said_new) ^ set(said_old)) > 2


def _reasons_said(reasons: list) -> list[str]:
    return sorted(_said(v) for v in reasons)


def _said(reason: Any) -> str:
    """What a reason says: its figures masked, its dates kept."""
    return _DATE_OR_FIGURE.sub(_keep_dates, str(reason))


def _keep_dates(match: re.Match) -> str:
    return match.group(0) if "-" in match.group(0) else "#"


def _scalar(customer_id: str, name: str, value: Any) -> Any:
    if isinstance(value, np.generic):
        # Rows read through pandas carry numpy scalars (int64 is not an int).
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None  # pandas' missing number
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and math.isinf(value):
        raise ValueError(f"customer {customer_id}: property '{name}' is {value}, not a number")
    if isinstance(value, str | bool | int | float):
        return value
    raise ValueError(
        f"customer {customer_id}: property '{name}' is a {type(value).__name__}; "
        "use a string, number, boolean, date, null or a list of those"
    )
