"""What every sandbox API module receives: the store as of `now`, writable state and limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from datetime import datetime

    import duckdb

    from sandbox.state import SandboxState


class StoreViewLike(Protocol):
    """The read side: `cursor()` opens a cursor over the `v_*` views; `now` is the sandbox clock."""

    now: datetime

    def cursor(self) -> duckdb.DuckDBPyConnection: ...


DEFAULT_API_TOKEN = "sandbox-key"


@dataclass
class SandboxContext:
    """Shared by the Shopify and Klaviyo emulators of one running sandbox."""

    view: StoreViewLike
    state: SandboxState
    rate_limit_scale: float = 1.0
    api_token: str = DEFAULT_API_TOKEN
    clock: Callable[[], float] = field(default=time.monotonic)
