"""SQL shapes DuckDB cannot run: checked on the models' source, before any build."""

import re

from pipeline.lib.settings import PROJECT_ROOT

MODELS = PROJECT_ROOT / "dbt_project" / "models"
CTE = re.compile(r"(?:^|,|\bwith)\s*(\w+)\s+as\s*\(", re.IGNORECASE | re.MULTILINE)
# "Does this source hold any row?": an EXISTS over a whole relation, no condition of its own.
ANY_ROW = re.compile(r"exists\s*\(\s*select\s+1\s+from\s+(\w+)\s*\)", re.IGNORECASE)


def uncorrelated_exists_over_ctes(sql: str) -> set[str]:
    """The CTEs of `sql` that an uncorrelated EXISTS reads."""
    return set(ANY_ROW.findall(sql)) & {name.lower() for name in CTE.findall(sql)}


def test_the_check_finds_the_shape_that_hung():
    hung = """
    with klaviyo_events as (select * from a),
    mailchimp_events as (
        select * from b where not exists (select 1 from klaviyo_events)
    )
    select * from klaviyo_events union all select * from mailchimp_events
    """
    assert uncorrelated_exists_over_ctes(hung) == {"klaviyo_events"}
    fixed = hung.replace("from klaviyo_events)", "from {{ ref('stg_klaviyo__events') }})")
    assert uncorrelated_exists_over_ctes(fixed) == set()


def test_no_model_asks_a_cte_whether_it_holds_any_row():
    # DuckDB can hang for ever (every thread parked, 0% CPU, not interruptible) when a CTE
    # feeds one arm of a union and an EXISTS in another: `email_events` did at 100k customers.
    # Asking the model itself ("does Klaviyo hold any email events?") runs in seconds.
    offenders = {
        str(path.relative_to(MODELS)): names
        for path in sorted(MODELS.rglob("*.sql"))
        if (names := uncorrelated_exists_over_ctes(path.read_text()))
    }
    assert not offenders, f"ask the model, not the CTE: {offenders}"
