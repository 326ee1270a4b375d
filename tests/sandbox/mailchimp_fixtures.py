"""A Mailchimp emulator over the tiny Klaviyo test store, reached through a Starlette TestClient.

The store's 30 people (see `klaviyo_fixtures`) become 28 members: person 5 has no email and
person 7 an invalid one. Consent cycles SUBSCRIBED / UNSUBSCRIBED / NEVER_SUBSCRIBED by person
number, and persons 4, 14 and 24 hard-bounced (cleaned).
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from pathlib import Path

from starlette.applications import Starlette
from starlette.testclient import TestClient

from sandbox.context import SandboxContext
from sandbox.mailchimp.api import ConnectionLimiter, mailchimp_routes
from sandbox.mailchimp.audience import audience_id
from sandbox.shopify.resolvers import ShopInfo
from sandbox.state import SandboxState
from tests.sandbox.klaviyo_fixtures import TOKEN, email_of, make_ctx

LIST_ID = audience_id(ShopInfo().name)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
N_MEMBERS = 28


def md5(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode()).hexdigest()


def person_email(n: int) -> str:
    return email_of(n).strip().lower()


def make_client(ctx: SandboxContext | None = None, limiter: ConnectionLimiter | None = None):
    app = Starlette(routes=mailchimp_routes(ctx or make_ctx(), limiter))
    return TestClient(app, headers=AUTH)


def ctx_on_file(path: Path) -> SandboxContext:
    """A context whose platform state lives in the file at `path`: a second one on the same
    file is the emulator after a restart."""
    return make_ctx(state=SandboxState(path))


def member_url(email: str, suffix: str = "") -> str:
    return f"/3.0/lists/{LIST_ID}/members/{md5(email)}{suffix}"


def put_body(email: str, **extra) -> dict:
    return {"email_address": email, "status_if_new": "transactional", **extra}


SCORE = {"tag": "CHURN", "name": "Churn probability", "type": "number"}  # a merge field


def statuses(client) -> dict[str, str]:
    """Email -> status of every member of the audience."""
    page = client.get(f"/3.0/lists/{LIST_ID}/members", params={"count": 1000}).json()
    return {m["email_address"]: m["status"] for m in page["members"]}


def finished_batch(mailchimp, operations: list[dict]) -> tuple[dict, dict[str, dict]]:
    """Submit a batch, poll it to the end, and read its results archive by operation id."""
    submitted = mailchimp.post("/3.0/batches", json={"operations": operations})
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending"
    batch_url = f"/3.0/batches/{submitted.json()['id']}"
    deadline = time.monotonic() + 10
    while (batch := mailchimp.get(batch_url).json())["status"] != "finished":
        assert time.monotonic() < deadline, batch
        time.sleep(0.02)
    archive = mailchimp.get(batch["response_body_url"], headers={"Authorization": ""})
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as files:
        results = [
            item
            for m in files.getmembers()
            if m.isfile()
            for item in json.load(files.extractfile(m))
        ]
    return batch, {r["operation_id"]: r for r in results}
