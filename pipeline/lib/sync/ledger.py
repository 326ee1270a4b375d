"""The sync ledger in the warehouse: what each destination acknowledged, and every row's outcome.

Tables (schema `activation`), keyed so a re-run converges:
- `sync_state`: one row per destination × customer — the destination's contact id and the hash
  of the properties it last acknowledged.
- `sync_memberships`: one row per destination × group × customer for memberships *we* added
  (or may have added): `pending` from just before the add is sent until it is acknowledged
  (`added`); `removing` from just before a removal is sent until it is acknowledged (then the
  row goes). A crash in between leaves `pending` or `removing`, which counts as ours (so it can
  be removed) but not as confirmed (so a wanted add is re-sent; adding a member twice changes
  nothing). A row is only ever dropped once the destination confirmed the member is not there
  (removal acknowledged) or this very run journaled the add and then did not send it.
- `sync_contact_ids`: one row per destination × customer × contact id ever acknowledged or sent
  (a profile our sync created, a Mailchimp member under an address since changed), kept so an
  erasure can delete every contact of the person on the platform, not only the latest.
- `sync_ledger`: one row per run × contact × action (× target group) with its outcome (`ok`,
  `error`, `skipped`) and plain-language error; customer ids only, never emails.
- `sync_scores_synced`: one row per destination — the `as_of_date` of the scores its last live
  sync that got past the blast-radius check sent, from which the next sync measures new
  activity (data time, not wall-clock time). A ledger from before it gets the table empty: the
  next sync then explains no move by activity, as before, and records it.

Each acknowledged batch is written in one transaction through an Arrow scan (never executemany).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime

import duckdb
import pyarrow as pa

from pipeline.lib.sync.plan import AcknowledgedState, Membership
from pipeline.lib.sync.records import Action, Member, Outcome

SCHEMA = "activation"
_BATCH = "_sync_batch"
_DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.sync_state (
    destination varchar not null, customer_id varchar not null, contact_id varchar,
    properties_hash varchar not null, acknowledged_at timestamp not null, run_id varchar not null,
    primary key (destination, customer_id));
-- The canonical properties acknowledged (JSON), which later plans measure changes from; a
-- ledger from before it has the column added, null until each contact's next write.
alter table {SCHEMA}.sync_state add column if not exists synced_properties varchar;
create table if not exists {SCHEMA}.sync_memberships (
    destination varchar not null, group_name varchar not null, customer_id varchar not null,
    contact_id varchar, status varchar not null, updated_at timestamp not null,
    run_id varchar not null, primary key (destination, group_name, customer_id));
create table if not exists {SCHEMA}.sync_contact_ids (
    destination varchar not null, customer_id varchar not null, contact_id varchar not null,
    first_seen_at timestamp not null, primary key (destination, customer_id, contact_id));
create table if not exists {SCHEMA}.sync_ledger (
    run_id varchar not null, destination varchar not null, customer_id varchar not null,
    action varchar not null, target varchar not null, outcome varchar not null,
    error varchar, recorded_at timestamp not null);
create table if not exists {SCHEMA}.sync_scores_synced (
    destination varchar primary key, scores_as_of date not null, run_id varchar not null,
    recorded_at timestamp not null);
"""


class SyncLedger:
    """The ledger of one destination on an open warehouse connection (used outside any
    transaction; each write is its own)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, destination: str) -> None:
        self.con = con
        self.destination = destination
        con.execute(_DDL)

    def load_state(self) -> AcknowledgedState:
        """Everything this destination acknowledged, and every membership we added."""
        state = AcknowledgedState()
        rows = self.con.execute(
            f"select customer_id, contact_id, properties_hash, synced_properties"
            f" from {SCHEMA}.sync_state where destination = ?",
            [self.destination],
        ).fetchall()
        state.contacts = {customer: (contact, digest) for customer, contact, digest, _ in rows}
        state.synced = {customer: json.loads(text) for customer, _, _, text in rows if text}
        rows = self.con.execute(
            f"select group_name, customer_id, contact_id, status from {SCHEMA}.sync_memberships"
            " where destination = ?",
            [self.destination],
        ).fetchall()
        for group, customer, contact, status in rows:
            state.memberships.setdefault(group, {})[customer] = Membership(
                contact, status == "added"
            )
        return state

    def synced_scores_as_of(self) -> date | None:
        """The `as_of_date` of the scores this destination last synced, or None if unknown."""
        row = self.con.execute(
            f"select scores_as_of from {SCHEMA}.sync_scores_synced where destination = ?",
            [self.destination],
        ).fetchone()
        return row[0] if row else None

    def record_synced_scores(self, scores_as_of: date, run_id: str) -> None:
        """Remember that this destination now holds the scores as of `scores_as_of`."""
        self.con.execute(
            f"""insert into {SCHEMA}.sync_scores_synced values (?, ?, ?, ?)
            on conflict do update set scores_as_of = excluded.scores_as_of,
                run_id = excluded.run_id, recorded_at = excluded.recorded_at""",
            [self.destination, scores_as_of, run_id, _now()],
        )

    def mark_pending(self, group: str, members: Sequence[Member], run_id: str) -> None:
        """Record adds about to be sent, so a crash after sending still knows they are ours."""
        batch = pa.table(
            {
                "customer_id": _strings([m.customer_id for m in members]),
                "contact_id": _strings([m.contact_id for m in members]),
            }
        )
        with self._transaction(batch):
            self.con.execute(
                f"""insert into {SCHEMA}.sync_memberships
                select ?, ?, customer_id, contact_id, 'pending', ?, ? from {_BATCH}
                on conflict do nothing""",
                [self.destination, group, _now(), run_id],
            )
            self._remember_contact_ids()

    def mark_removing(self, group: str, members: Sequence[Member], run_id: str) -> None:
        """Record removals about to be sent: until acknowledged, the membership is unconfirmed
        (the member may or may not still be in the group)."""
        batch = pa.table({"customer_id": _strings([m.customer_id for m in members])})
        with self._transaction(batch):
            self.con.execute(
                f"""update {SCHEMA}.sync_memberships
                set status = 'removing', updated_at = ?, run_id = ?
                where destination = ? and group_name = ?
                  and customer_id in (select customer_id from {_BATCH})""",
                [_now(), run_id, self.destination, group],
            )

    def record(
        self,
        run_id: str,
        action: Action,
        outcomes: Sequence[Outcome],
        *,
        group: str = "",
        hashes: Mapping[str, str] | None = None,
        synced: Mapping[str, Mapping] | None = None,
    ) -> None:
        """Write one acknowledged batch: its ledger rows and the state they imply.

        `hashes` (customer_id -> properties hash) is required for `set_properties`, with
        `synced` (customer_id -> the canonical properties sent) to measure later changes from.
        """
        batch = pa.table(
            {
                "customer_id": _strings([o.customer_id for o in outcomes]),
                "outcome": _strings([o.status for o in outcomes]),
                "contact_id": _strings([o.contact_id for o in outcomes]),
                "error": _strings([o.error for o in outcomes]),
                "properties_hash": _strings([(hashes or {}).get(o.customer_id) for o in outcomes]),
                "synced_properties": _strings(
                    [_json((synced or {}).get(o.customer_id)) for o in outcomes]
                ),
            }
        )
        now = _now()
        common = {"destination": self.destination, "group": group, "now": now, "run": run_id}
        with self._transaction(batch):
            self.con.execute(
                f"""insert into {SCHEMA}.sync_ledger
                select $run, $destination, customer_id, $action, $group, outcome, error, $now
                from {_BATCH}""",
                common | {"action": action},
            )
            self._remember_contact_ids()
            if action == "set_properties":
                self._acknowledge_properties(common)
            elif action == "add_to_group":
                self._acknowledge_adds(common)
            else:
                self.con.execute(
                    f"""delete from {SCHEMA}.sync_memberships
                    where destination = $destination and group_name = $group
                      and customer_id in (select customer_id from {_BATCH} where outcome = 'ok')""",
                    {k: common[k] for k in ("destination", "group")},
                )

    def _remember_contact_ids(self) -> None:
        """Keep every contact id of the batch (`_sync_batch`), for erasure."""
        self.con.execute(
            f"""insert into {SCHEMA}.sync_contact_ids
            select distinct ?, customer_id, contact_id, ? from {_BATCH}
            where contact_id is not null
            on conflict do nothing""",
            [self.destination, _now()],
        )

    def _acknowledge_properties(self, params: dict) -> None:
        self.con.execute(
            f"""insert into {SCHEMA}.sync_state (destination, customer_id, contact_id,
                properties_hash, acknowledged_at, run_id, synced_properties)
            select $destination, customer_id, contact_id, properties_hash, $now, $run,
                synced_properties
            from {_BATCH} where outcome = 'ok'
            on conflict do update set contact_id = coalesce(excluded.contact_id, contact_id),
                properties_hash = excluded.properties_hash,
                synced_properties = excluded.synced_properties,
                acknowledged_at = excluded.acknowledged_at, run_id = excluded.run_id""",
            {k: params[k] for k in ("destination", "now", "run")},
        )

    def _acknowledge_adds(self, params: dict) -> None:
        # Confirmed adds become `added`. A skipped add was not sent, so the row goes, but only
        # if this run journaled it: an older pending row may be an add that reached the
        # destination before a crash. Failed ones stay: the call may have reached it.
        self.con.execute(
            f"""update {SCHEMA}.sync_memberships as m
            set status = 'added', contact_id = coalesce(b.contact_id, m.contact_id),
                updated_at = $now, run_id = $run
            from {_BATCH} as b
            where m.destination = $destination and m.group_name = $group
              and m.customer_id = b.customer_id and b.outcome = 'ok'""",
            params,
        )
        self.con.execute(
            f"""delete from {SCHEMA}.sync_memberships
            where destination = $destination and group_name = $group and status = 'pending'
              and run_id = $run
              and customer_id in (select customer_id from {_BATCH} where outcome = 'skipped')""",
            {k: params[k] for k in ("destination", "group", "run")},
        )

    @contextmanager
    def _transaction(self, batch: pa.Table) -> Iterator[None]:
        """`batch` visible as `_sync_batch` inside one transaction, rolled back on any error."""
        self.con.register(_BATCH, batch)
        self.con.begin()
        try:
            yield
            self.con.commit()
        except BaseException:
            self.con.rollback()
            raise
        finally:
            self.con.unregister(_BATCH)


def _strings(values: list) -> pa.Array:
    return pa.array(values, pa.string())


def _json(properties: Mapping | None) -> str | None:
    if properties is None:
        return None
    return json.dumps(properties, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
