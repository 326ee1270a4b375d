"""Vendor API specs for conformance tests: read from `FORESIGHT_SPEC_DIR` (default
`../shared/specs`), never part of the repository. Without them a developer's run skips these
tests and says why; in CI (`CI` set) a missing spec fails the run, so a conformance test can
never pass unnoticed by not running."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.lib.settings import PROJECT_ROOT

SPEC_DIR = Path(os.environ.get("FORESIGHT_SPEC_DIR", PROJECT_ROOT.parent / "shared" / "specs"))


def requires_spec(path: Path) -> pytest.MarkDecorator:
    """A marker that skips the test when `path` is missing, or fails the run in CI."""
    reason = f"API spec not found at {path}; set FORESIGHT_SPEC_DIR to the specs folder"
    if not path.exists() and os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must run the conformance tests)", pytrace=False)
    return pytest.mark.skipif(not path.exists(), reason=reason)
