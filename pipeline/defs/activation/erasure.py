"""The `erasure` job: forget a person everywhere (GDPR / CCPA), on request.

Grain of the asset `[activation, erasures]`: one row per erasure request in
`activation.erasures` (salted hashes only). Run config names a request file (emails or
customer ids, one per line or CSV) or a Shopify `customers/redact` body; see
`pipeline.lib.erasure.request`. Besides the warehouse, the person is deleted in each configured
marketing platform: a data-privacy deletion in Klaviyo, their members of the Mailchimp audience.
A platform without settings is left out and the metadata says which platforms were used; it
never falls back to any other service. Metadata holds counts only, never an email or an id.
"""

import dagster as dg

from pipeline.defs.resources import KlaviyoResource, MailchimpResource, WarehouseResource
from pipeline.lib.erasure.request import (
    ErasureRequestError,
    parse_redact_json,
    parse_request_file,
)
from pipeline.lib.erasure.run import MailchimpAudience, erase_all

KEY = ["activation", "erasures"]


class ErasureConfig(dg.Config):
    """Who to erase: exactly one of `request_path` and `payload`."""

    request_path: str | None = None
    """A request file: one email / customer_id / identity key per line, a CSV with `email`
    and/or `customer_id` columns, or a `customers/redact` JSON body."""
    payload: str | None = None
    """A Shopify `customers/redact` webhook body, as JSON text. Dagster keeps run config in its
    run history, email included: for real requests prefer `request_path`."""


@dg.asset(
    key=KEY,
    description="Erasure requests processed (one row per request): the person deleted from "
    "every warehouse table and, in each configured platform, a Klaviyo data-privacy deletion "
    "filed and their Mailchimp audience members permanently deleted; only salted hashes of "
    "their identifiers are kept, so later loads and backfills skip them.",
    group_name="activation",
    kinds={"duckdb", "klaviyo", "mailchimp"},
    owners=["team:data"],
    pool="duckdb",
)
def erasures(
    context: dg.AssetExecutionContext,
    config: ErasureConfig,
    klaviyo: KlaviyoResource,
    mailchimp: MailchimpResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    if (config.request_path is None) == (config.payload is None):
        raise ErasureRequestError("give exactly one of request_path and payload")
    if config.payload is not None:
        requests = [parse_redact_json(config.payload)]
    else:
        requests = parse_request_file(config.request_path)
    client = klaviyo.write_client() if klaviyo.configured else None
    audience = None
    if mailchimp.configured:
        audience = MailchimpAudience(mailchimp.client(), mailchimp.audience)
    platforms = [name for name, used in (("klaviyo", client), ("mailchimp", audience)) if used]
    context.log.info(
        f"Erasing in the warehouse and {', '.join(platforms) or 'no marketing platform'} "
        "(platforms without settings are left out)"
    )
    context.log.info(f"Processing {len(requests)} erasure request(s)")
    with warehouse.connect() as con:
        results = erase_all(
            con, requests, klaviyo=client, mailchimp=audience, run_id=context.run.run_id
        )
    deleted: dict[str, int] = {}
    for result in results:
        for table, count in result.deleted_rows.items():
            deleted[table] = deleted.get(table, 0) + count
    return dg.MaterializeResult(
        metadata={
            "platforms": ", ".join(platforms) or "none",
            "requests": len(results),
            "repeated_requests": sum(r.repeated for r in results),
            "identities_found": sum(r.identities for r in results),
            "rows_deleted": sum(deleted.values()),
            "tables_with_deletions": len(deleted),
            "deleted_rows_by_table": dg.MetadataValue.json(dict(sorted(deleted.items()))),
            "klaviyo_deletion_requests": sum(r.klaviyo_deletions for r in results),
            "mailchimp_members_deleted": sum(r.mailchimp_deletions for r in results),
        }
    )


erasure_job = dg.define_asset_job(
    "erasure",
    selection=dg.AssetSelection.assets(KEY),
    executor_def=dg.in_process_executor,
    description="Erase the people a request names from the warehouse, Klaviyo and Mailchimp "
    "(request file path or customers/redact payload in run config).",
)
