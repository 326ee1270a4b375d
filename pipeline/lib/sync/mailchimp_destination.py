"""Mailchimp as a sync destination: scalar properties as merge fields, groups as tags.

Properties: each scalar property the desired state carries has a merge field (`MERGE_FIELDS`),
created once per audience with `ensure_merge_fields` before the first write. List properties
(segments, reasons) have no merge field type: segments travel as tags, reasons stay in Klaviyo.
A scalar property without a merge field is an error, so a new property is never dropped unseen.
Members are upserted by PUT with `status_if_new: transactional` and never `status`, 500 PUTs
per batch operations call (see `clients.mailchimp`): an existing member's consent is never
touched and nobody is subscribed.
Members are addressed by email, and their contact id is the subscriber hash (md5 of the
lower-cased email), so a removal still works once the email is gone from the warehouse.

Groups: one tag per segment (`tag_prefix + segment`), sent in batches of up to 500 emails
through the tag's static segment (`POST /lists/{id}/segments/{segment_id}`; a tag and its
static segment are one thing in Mailchimp), so a batch of a sync is one write call instead of
one per member. The segment is found, or created empty, once per client. Before any tag is
added, the audience's live statuses are read (once per destination object) and only
`subscribed` members are tagged: whatever the warehouse said, someone Mailchimp holds as
unsubscribed, cleaned or transactional is skipped. Removals only ever come from the ledger,
i.e. tags we added. Per member, per batch: one Mailchimp lists in `errors` is an error (its
reason scrubbed of emails); one added or removed is ok. Mailchimp silently ignores an email it
does not hold, and one already tagged, so a member neither added nor refused is read back: ok
when it holds the tag, skipped with the reason when the audience no longer holds it. A removal
Mailchimp ignored leaves nothing of ours behind, so it is ok. The batch takes emails only: a
member the warehouse knows by subscriber hash alone (its email is gone) still gets one tags call.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from pipeline.lib.clients.http import RequestRejectedError
from pipeline.lib.clients.mailchimp import MailchimpClient, MemberUpsert, subscriber_hash
from pipeline.lib.clients.mailchimp_segments import MAX_SEGMENT_BATCH, SegmentBatch, email_key
from pipeline.lib.sync.desired import PREFIX
from pipeline.lib.sync.records import Member, Outcome, PropertyWrite

# property (without the prefix) -> (merge tag, field name, type); tags are at most 10 characters.
MERGE_FIELDS: dict[str, tuple[str, str, str]] = {
    "churn_probability": ("FS_CHURN", "Churn probability", "number"),
    "purchase_probability": ("FS_BUY", "Purchase probability", "number"),
    "cltv_predicted": ("FS_CLTV", "Predicted CLTV", "number"),
    "churn_tier": ("FS_CHTIER", "Churn tier", "text"),
    "purchase_tier": ("FS_BUYTIER", "Purchase tier", "text"),
    "cltv_tier": ("FS_CLVTIER", "CLTV tier", "text"),
    "next_best_category": ("FS_NEXTCAT", "Next best category", "text"),
    "expected_next_order_date": ("FS_NEXTORD", "Expected next order", "date"),
    "model_version": ("FS_MODEL", "Model version", "text"),
    "score_source": ("FS_SOURCE", "Score source", "text"),
    "scored_at": ("FS_SCORED", "Scored at", "text"),
    "is_holdout": ("FS_HOLDOUT", "In a holdout group", "text"),
}
BATCH_SIZE = 500


class MailchimpDestination:
    """The `Destination` for one Mailchimp audience (`audience` by name, or the account's only
    one). No request is made until a method is called."""

    name = "mailchimp"
    property_batch_size = BATCH_SIZE
    group_batch_size = MAX_SEGMENT_BATCH  # one segment call per batch of a sync

    def __init__(
        self,
        client: MailchimpClient,
        *,
        audience: str | None = None,
        tag_prefix: str = "Foresight: ",
    ) -> None:
        self.client = client
        self.audience = audience
        self.tag_prefix = tag_prefix
        self._list_id: str | None = None
        self._fields_ready = False
        self._statuses: dict[str, str] | None = None

    @property
    def write_calls(self) -> int:
        return self.client.write_calls

    def tag_name(self, group: str) -> str:
        return f"{self.tag_prefix}{group}"

    @property
    def list_id(self) -> str:
        if self._list_id is None:
            self._list_id = self.client.find_audience(self.audience)["id"]
        return self._list_id

    # -- properties ----------------------------------------------------------------------------

    def set_properties(self, writes: Sequence[PropertyWrite]) -> list[Outcome]:
        merge = {w.customer_id: merge_values(w.properties) for w in writes}
        if not self._fields_ready:
            fields = [
                {"tag": tag, "name": name, "type": kind}
                for tag, name, kind in MERGE_FIELDS.values()
            ]
            self.client.ensure_merge_fields(self.list_id, fields)
            self._fields_ready = True
        outcomes = [_no_email(w.customer_id, w.contact_id) for w in writes if not w.email]
        sendable = [w for w in writes if w.email]
        upserts = [MemberUpsert(w.email, merge[w.customer_id]) for w in sendable]
        answers = self.client.upsert_members(self.list_id, upserts) if upserts else []
        for write, answer in zip(sendable, answers, strict=True):
            member = subscriber_hash(write.email)
            if answer.ok:
                outcomes.append(Outcome(write.customer_id, "ok", member))
                if self._statuses is not None and answer.status:
                    self._statuses[member] = answer.status
            else:
                error = _scrub(answer.error or "Mailchimp refused the member", write.email)
                outcomes.append(Outcome(write.customer_id, "error", write.contact_id, error))
        return outcomes

    # -- tags ----------------------------------------------------------------------------------

    def add_to_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        statuses = self._live_statuses()
        outcomes, by_email, by_hash = [], [], []
        for member in members:
            member_hash = _member_hash(member)
            if member_hash is None:
                outcomes.append(_no_email(member.customer_id, None))
                continue
            status = statuses.get(member_hash)
            if status != "subscribed":
                reason = (
                    "not a member of the Mailchimp audience"
                    if status is None
                    else f"Mailchimp holds this member as {status}, not subscribed"
                )
                outcomes.append(Outcome(member.customer_id, "skipped", member_hash, reason))
            else:
                (by_email if member.email else by_hash).append(member)
        tag = self.tag_name(group)
        if by_email:
            segment = self.client.find_or_create_tag_segment(self.list_id, tag)
            for chunk in _chunks(by_email):
                outcomes += self._batch(segment, chunk, add=True)
        outcomes += [self._tag(m, m.contact_id, active=[tag]) for m in by_hash]
        return outcomes

    def remove_from_group(self, group: str, members: Sequence[Member]) -> list[Outcome]:
        tag = self.tag_name(group)
        outcomes = [_no_email(m.customer_id, None) for m in members if _member_hash(m) is None]
        by_email = [m for m in members if m.email]
        if by_email:
            segment = self.client.find_tag_segment(self.list_id, tag)
            for chunk in _chunks(by_email):
                outcomes += self._batch(segment, chunk, add=False)
        by_hash = [m for m in members if not m.email and m.contact_id]
        outcomes += [self._tag(m, m.contact_id, inactive=[tag]) for m in by_hash]
        return outcomes

    def _batch(self, segment: int | None, members: Sequence[Member], *, add: bool) -> list[Outcome]:
        """One segment call for up to 500 members (none to remove from a tag nobody holds)."""
        emails = list(dict.fromkeys(m.email.strip() for m in members))
        if segment is None:
            answer = SegmentBatch()
        else:
            add_emails, remove_emails = (emails, []) if add else ([], emails)
            answer = self.client.batch_segment_members(
                self.list_id, segment, add=add_emails, remove=remove_emails
            )
        done = answer.added if add else answer.removed
        outcomes = []
        for member in members:
            key, member_hash = email_key(member.email), subscriber_hash(member.email)
            if key in answer.errors:
                outcomes.append(_refused(member, member_hash, answer.errors[key]))
            elif key in done or not add:
                # A removal Mailchimp ignored (the tag or the member is gone) leaves nothing of
                # ours behind.
                outcomes.append(Outcome(member.customer_id, "ok", member_hash))
            else:
                outcomes.append(self._ignored_add(segment, member, member_hash))
        return outcomes

    def _ignored_add(self, segment: int, member: Member, member_hash: str) -> Outcome:
        """Mailchimp ignores an email that already holds the tag, and one the audience does
        not hold (e.g. deleted since the status read): only a read tells them apart."""
        held = self.client.get_member(self.list_id, member_hash, fields=["id", "tags"])
        if held is None:
            reason = "Mailchimp ignored the member: the audience no longer holds this address"
            return Outcome(member.customer_id, "skipped", member_hash, reason)
        if any(t.get("id") == segment for t in held.get("tags") or []):
            return Outcome(member.customer_id, "ok", member_hash)
        reason = "Mailchimp neither added the tag nor said why"
        return Outcome(member.customer_id, "error", member_hash, reason)

    def _tag(self, member: Member, member_hash: str, **tags: list[str]) -> Outcome:
        """One member's tags by subscriber hash: for a member whose email the warehouse lost."""
        try:
            self.client.set_member_tags(self.list_id, member_hash, **tags)
        except RequestRejectedError as error:
            if error.status == 404 and "inactive" in tags:
                # No such member any more: nothing of ours left to remove.
                return Outcome(member.customer_id, "ok", member_hash)
            return _refused(member, member_hash, str(error))
        return Outcome(member.customer_id, "ok", member_hash)

    def _live_statuses(self) -> dict[str, str]:
        """Subscriber hash -> status of every member, read once; upserts keep it current."""
        if self._statuses is None:
            self._statuses = {
                m["id"]: m["status"]
                for m in self.client.iter_members(self.list_id, fields=["id", "status"])
            }
        return self._statuses


def merge_values(properties: Mapping[str, Any]) -> dict[str, Any]:
    """Merge values for the scalar properties (null clears a field); lists are left out."""
    values = {}
    for name, value in properties.items():
        if isinstance(value, list):
            continue
        field = MERGE_FIELDS.get(name.removeprefix(PREFIX))
        if field is None or not name.startswith(PREFIX):
            raise ValueError(
                f"property '{name}' has no Mailchimp merge field: add it to MERGE_FIELDS"
            )
        tag, _, kind = field
        if value is None:
            values[tag] = ""
        elif isinstance(value, bool):
            values[tag] = "yes" if value else "no"
        elif kind == "text":
            values[tag] = str(value)
        else:
            values[tag] = value
    return values


def _member_hash(member: Member) -> str | None:
    if member.email:
        return subscriber_hash(member.email)
    return member.contact_id


def _chunks(members: Sequence[Member]) -> Iterator[Sequence[Member]]:
    for start in range(0, len(members), MAX_SEGMENT_BATCH):
        yield members[start : start + MAX_SEGMENT_BATCH]


def _refused(member: Member, member_hash: str, message: str) -> Outcome:
    return Outcome(member.customer_id, "error", member_hash, _scrub(message, member.email))


def _no_email(customer_id: str, contact_id: str | None) -> Outcome:
    reason = "no email: Mailchimp addresses members by email"
    return Outcome(customer_id, "skipped", contact_id, reason)


def _scrub(message: str, email: str | None) -> str:
    """Mailchimp's words about a member may quote the email; the ledger must not."""
    for form in {email.strip(), email.strip().lower()} if email else ():
        message = message.replace(form, "<email>")
    return message
