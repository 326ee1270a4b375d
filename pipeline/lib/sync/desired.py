"""The desired state of every destination, read from the warehouse.

Grain: one `DesiredContact` per customer of `marts.customers` — everyone, not only segment
members, so that a person who leaves every segment also loses the segment properties we set.

Per customer:
- `email`: the customers mart's email, or None when it is marked invalid (a platform would
  reject it on every run); `contact_id`: the Klaviyo profile id for Klaviyo, None elsewhere (the
  destination matches by email and the ledger learns its id);
- `can_receive_email_marketing` from the customers mart (valid email, subscribed, not
  suppressed); the destination re-checks live consent before any list add;
- `segments` (the lists to be on): the customer's rows of `marts.customer_segments` that are not
  in the segment's holdout — the control group is never synced;
- `properties` (all prefixed `foresight_`): the synced segments, the holdout segments and an
  any-holdout flag, and — when `ml.customer_scores` exists — the scores, tiers, reasons,
  next best category, expected next order date, model version and `scored_at` of the latest
  scoring run. Probabilities are rounded to 3 decimals and CLTV to cents. A contact is
  rewritten only when what a marketer acts on changed (`records.change_signature`: segments,
  tiers, categories, probabilities by 10 points, CLTV by 25% steps, dates by week, reasons by
  what they say),
  so a day of re-scoring rewrites few profiles; a write then carries every current value.
People erased since the marts were built (their salted hashes in `activation.erasures`) are
left out: the sync never writes an erased person back to a platform.

The holdout segments are a separate property from `foresight_segments` so a marketer who
targets "foresight_segments contains vip" on the platform cannot mail the control group.
"""

from __future__ import annotations

from collections.abc import Iterator

import duckdb

from pipeline.lib.erasure.keys import erased_keys, identifier_hash, normalise_email
from pipeline.lib.sync.records import DesiredContact

PREFIX = "foresight_"
SCORES_TABLE = "ml.customer_scores"
# Score columns synced as properties, with the rounding that keeps re-scoring noise out.
ROUNDED_SCORES = {"churn_probability": 3, "purchase_probability": 3, "cltv_predicted": 2}
SCORE_PROPERTIES = (
    *ROUNDED_SCORES,
    "churn_tier",
    "purchase_tier",
    "cltv_tier",
    "next_best_category",
    "expected_next_order_date",
    "churn_reasons",
    "purchase_reasons",
    "cltv_reasons",
    "model_version",
    "score_source",
    "scored_at",
)
CONTACT_ID_COLUMNS = {"klaviyo": "klaviyo_profile_id"}


def scores_available(con: duckdb.DuckDBPyConnection) -> bool:
    """True when the ML stage has written `ml.customer_scores` (it may not have run yet)."""
    schema, table = SCORES_TABLE.split(".")
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return bool(found and found[0])


def read_desired_state(con: duckdb.DuckDBPyConnection, destination: str) -> list[DesiredContact]:
    """Every customer's desired contact for `destination` (see the module docstring)."""
    with_scores = scores_available(con)
    if with_scores:
        _check_score_columns(con)
    contact_id = CONTACT_ID_COLUMNS.get(destination)
    erased = _erased_hashes(con)
    rows = con.execute(_query(with_scores, contact_id))
    names = [d[0] for d in rows.description]
    return [
        contact
        for contact in _contacts(rows, names, with_scores)
        if not (erased and _is_erased(contact, destination, erased))
    ]


def _erased_hashes(con: duckdb.DuckDBPyConnection) -> tuple[set[str], str] | None:
    """The identifier hashes of erased people and their salt, or None when nobody was erased."""
    keys = erased_keys(con)
    if keys is None:
        return None
    return set(keys.hashes.column("key_hash").to_pylist()), keys.salt


def _is_erased(contact: DesiredContact, destination: str, erased: tuple[set[str], str]) -> bool:
    # A person erased after the marts were built, or by an identifier the purge could not
    # reach, is still in them: the sync must not write them back to a platform.
    hashes, salt = erased
    email = normalise_email(contact.email)
    if email and identifier_hash("email", email, salt) in hashes:
        return True
    return bool(
        destination == "klaviyo"
        and contact.contact_id
        and identifier_hash("klaviyo", contact.contact_id, salt) in hashes
    )


def _query(with_scores: bool, contact_id: str | None) -> str:
    scores = "null::varchar as _no_scores"
    join = ""
    if with_scores:
        scores = ", ".join(
            f"round(s.{c}, {digits}) as {c}" if (digits := ROUNDED_SCORES.get(c)) else f"s.{c}"
            for c in SCORE_PROPERTIES
        )
        join = f"""left join (
            select * from {SCORES_TABLE}
            where as_of_date = (select max(as_of_date) from {SCORES_TABLE})
        ) as s on s.customer_id = c.customer_id"""
    return f"""
        with memberships as (
            select
                customer_id,
                list(segment order by segment) filter (where not is_holdout) as segments,
                list(segment order by segment) filter (where is_holdout) as holdout_segments
            from marts.customer_segments
            group by customer_id
        )
        select
            c.customer_id,
            case when coalesce(c.has_invalid_email, false) then null else c.email end as email,
            {f"c.{contact_id}" if contact_id else "null::varchar"} as contact_id,
            coalesce(c.can_receive_email_marketing, false) as can_receive_email_marketing,
            coalesce(m.segments, []) as segments,
            coalesce(m.holdout_segments, []) as holdout_segments,
            {scores}
        from marts.customers as c
        left join memberships as m on m.customer_id = c.customer_id
        {join}
        order by c.customer_id
    """


def _contacts(
    rows: duckdb.DuckDBPyConnection, names: list[str], with_scores: bool
) -> Iterator[DesiredContact]:
    while batch := rows.fetchmany(10_000):
        for values in batch:
            row = dict(zip(names, values, strict=True))
            segments, holdouts = row["segments"], row["holdout_segments"]
            properties = {
                f"{PREFIX}segments": segments,
                f"{PREFIX}holdout_segments": holdouts,
                f"{PREFIX}is_holdout": bool(holdouts),
            }
            if with_scores:
                properties |= {f"{PREFIX}{name}": row[name] for name in SCORE_PROPERTIES}
            yield DesiredContact(
                customer_id=row["customer_id"],
                email=row["email"],
                contact_id=row["contact_id"],
                can_receive_email_marketing=row["can_receive_email_marketing"],
                properties=properties,
                segments=frozenset(segments),
            )


def _check_score_columns(con: duckdb.DuckDBPyConnection) -> None:
    schema, table = SCORES_TABLE.split(".")
    present = {
        name
        for (name,) in con.execute(
            "select column_name from information_schema.columns"
            " where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    missing = sorted({"customer_id", "as_of_date", *SCORE_PROPERTIES} - present)
    if missing:
        raise ValueError(
            f"{SCORES_TABLE} lacks the columns the sync needs: {', '.join(missing)} "
            "(it is written by the scoring asset `ml/customer_scores`: re-run scoring)"
        )
