"""Safe, idempotent sync of segments and scores to email platforms (no Dagster imports).

`desired.read_desired_state` reads what each destination should hold from the warehouse;
`run.sync` plans the changes against the ledger (`plan`, `ledger`), checks the blast radius
(`blast_radius`; `activity` tells which moves new activity explains) and sends them through a
`destinations.Destination` such as `klaviyo_destination.KlaviyoDestination` or
`mailchimp_destination.MailchimpDestination`.
"""

from pipeline.lib.sync.activity import NewActivity, read_new_activity
from pipeline.lib.sync.blast_radius import BlastRadiusExceeded, BlastRadiusPolicy
from pipeline.lib.sync.desired import read_desired_state
from pipeline.lib.sync.destinations import Destination
from pipeline.lib.sync.klaviyo_destination import KlaviyoDestination
from pipeline.lib.sync.ledger import SyncLedger
from pipeline.lib.sync.mailchimp_destination import MailchimpDestination
from pipeline.lib.sync.plan import AcknowledgedState, SyncPlan, build_plan, summarize
from pipeline.lib.sync.records import DesiredContact, Member, Outcome, PropertyWrite
from pipeline.lib.sync.run import SyncResult, sync

__all__ = [
    "AcknowledgedState",
    "BlastRadiusExceeded",
    "BlastRadiusPolicy",
    "DesiredContact",
    "Destination",
    "KlaviyoDestination",
    "MailchimpDestination",
    "Member",
    "NewActivity",
    "Outcome",
    "PropertyWrite",
    "SyncLedger",
    "SyncPlan",
    "SyncResult",
    "build_plan",
    "read_desired_state",
    "read_new_activity",
    "summarize",
    "sync",
]
