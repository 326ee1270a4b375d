"""Email features built from Mailchimp activity equal those built from Klaviyo events, customer
by customer and as-of date by as-of date, on the small simulated store; and the comparison
catches a difference when there is one."""

from __future__ import annotations

import shutil
from datetime import date

import duckdb
import pytest

from bench.email_feature_equality import (
    EMAIL_FEATURES,
    build_features_without,
    compare_email_features,
    ingest_all_platforms,
)
from sandbox.shop.simulator import StoreSpec

pytestmark = pytest.mark.integration
# Smaller than the shared small store: two dbt builds of the features are the slow part.
TINY_STORE = StoreSpec(seed=11, customers=200, start=date(2024, 1, 1), days=150)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("equality")
    raw = root / "raw.duckdb"
    ingest_all_platforms(TINY_STORE, root / "sandbox", raw)
    klaviyo, mailchimp = build_features_without(raw, root)
    return root, klaviyo, mailchimp


def test_mailchimp_and_klaviyo_give_the_same_email_features(built):
    _, klaviyo, mailchimp = built
    result = compare_email_features(klaviyo, mailchimp)
    assert result["customers"] > 150
    assert result["rows_with_email_activity"] > 100
    assert result["one_sided_rows_with_email_activity"] == 0
    assert {column: result[column] for column in EMAIL_FEATURES} == dict.fromkeys(EMAIL_FEATURES, 0)


def test_the_comparison_sees_a_missing_open(built):
    root, klaviyo, mailchimp = built
    changed = root / "changed.duckdb"
    shutil.copyfile(mailchimp, changed)
    with duckdb.connect(str(changed)) as con:
        con.execute(
            "update marts.customer_features set emails_opened_30d = emails_opened_30d + 1"
            " where customer_id = (select min(customer_id) from marts.customer_features"
            " where emails_received_30d > 0)"
        )
    result = compare_email_features(klaviyo, changed)
    assert result["emails_opened_30d"] > 0
