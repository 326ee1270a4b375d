"""The one Definitions object loads and validates, as `dagster dev` and the demo load it."""

import dagster as dg

from pipeline.definitions import defs


def test_definitions_load_and_validate():
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)
