"""Klaviyo's id shapes, minted by the emulator for what clients create."""

from __future__ import annotations

import secrets
from datetime import datetime

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def new_ulid(now: datetime) -> str:
    """A 26-character ULID (Klaviyo's id shape for profiles and jobs) stamped with `now`."""
    epoch_ms = int((now - datetime(1970, 1, 1)).total_seconds() * 1000)
    value = (epoch_ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_list_id() -> str:
    """A random 6-character alphanumeric id (Klaviyo's list id shape)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(6))
