"""What a sync needs from an email platform: set properties on contacts, and manage group
membership (a Klaviyo static list, a Mailchimp tag), one batch at a time.

Contract for implementations:
- Each call returns exactly one `Outcome` per input contact: `ok` once the platform acknowledged
  it, `error` for a per-contact failure (with a plain-language reason, no email or key), `skipped`
  when nothing was sent for that contact (e.g. it cannot be marketed to on the platform's side).
- Raising means the whole batch failed; the caller records every row of it as an error.
- Never subscribe anyone and never change consent; `add_to_group` must refuse (skip) a contact
  the platform itself says cannot receive email marketing.
- Adding a member twice and removing a non-member must be harmless (re-runs depend on it).
- `write_calls` counts write requests made so far; reads do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pipeline.lib.sync.records import Member, Outcome, PropertyWrite


class Destination(Protocol):
    """An email platform as the sync sees it."""

    name: str
    property_batch_size: int
    group_batch_size: int

    @property
    def write_calls(self) -> int: ...

    def set_properties(self, writes: Sequence[PropertyWrite]) -> list[Outcome]: ...

    def add_to_group(self, group: str, members: Sequence[Member]) -> list[Outcome]: ...

    def remove_from_group(self, group: str, members: Sequence[Member]) -> list[Outcome]: ...
