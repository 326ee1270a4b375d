"""The whole sandbox on loopback over the real simulated store: both APIs and their state."""

from __future__ import annotations

import pytest
import requests
from starlette.testclient import TestClient

from pipeline.lib.clients.shopify import SHOPIFY_API_VERSION
from sandbox.server import build_app, open_sandbox
from sandbox.threaded_server import ThreadedServer
from tests.conftest import SMALL_STORE
from tests.sandbox.test_klaviyo_spec import STABLE, conforms, openapi, spec  # noqa: F401
from tests.specs import requires_spec

pytestmark = pytest.mark.integration
SHOPIFY = {"X-Shopify-Access-Token": "sandbox-key"}
KLAVIYO = {"Authorization": "Klaviyo-API-Key sandbox-key", "revision": "2026-07-15"}
GRAPHQL = f"/admin/api/{SHOPIFY_API_VERSION}/graphql.json"
CUSTOMERS_PAGE = """query($after: String, $query: String) {
  customers(first: 250, after: $after, query: $query) {
    edges { node { id email updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture(scope="module")
def server(data_dir):
    ctx = open_sandbox(SMALL_STORE, data_dir, rate_limit_scale=1000)
    with ThreadedServer(build_app(ctx, bulk_dir=data_dir / "bulk")) as running:
        yield running, ctx


def _all_customers(url: str, query: str | None = None) -> list[dict]:
    nodes, after = [], None
    while True:
        body = requests.post(
            url + GRAPHQL,
            json={"query": CUSTOMERS_PAGE, "variables": {"after": after, "query": query}},
            headers=SHOPIFY,
            timeout=30,
        ).json()
        page = body["data"]["customers"]
        nodes += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_shopify_pages_through_every_customer_once(server):
    running, ctx = server
    nodes = _all_customers(running.url)
    with ctx.view.cursor() as cur:
        (expected,) = cur.execute("select count(*) from v_shopify_customers").fetchall()[0]
    assert len(nodes) == expected == len({n["id"] for n in nodes})
    recent = _all_customers(running.url, "updated_at:>='2024-08-01T00:00:00Z'")
    assert 0 < len(recent) < expected
    assert all(n["updatedAt"] >= "2024-08-01T00:00:00Z" for n in recent)


def test_klaviyo_pages_through_every_profile_once(server):
    running, ctx = server
    url, ids = f"{running.url}/api/profiles?page[size]=100", []
    while url:
        body = requests.get(url, headers=KLAVIYO, timeout=30).json()
        ids += [profile["id"] for profile in body["data"]]
        url = body["links"].get("next")
    with ctx.view.cursor() as cur:
        (expected,) = cur.execute("select count(*) from v_klaviyo_profiles").fetchall()[0]
    assert len(ids) == len(set(ids)) == expected


@requires_spec(STABLE)
def test_real_store_pages_conform_to_the_klaviyo_spec(server, openapi, data_dir):  # noqa: F811
    _, ctx = server
    client = TestClient(build_app(ctx, bulk_dir=data_dir / "bulk"), base_url="http://testserver")
    for path in (
        "/api/profiles?additional-fields[profile]=subscriptions&page[size]=100",
        "/api/events?include=metric,profile&sort=datetime",
        "/api/metrics",
    ):
        response = client.get(path, headers=KLAVIYO)
        assert response.status_code == 200, response.text
        conforms(openapi, response)


def test_written_state_survives_a_restart(data_dir):
    first = open_sandbox(SMALL_STORE, data_dir, rate_limit_scale=1000)
    with ThreadedServer(build_app(first, bulk_dir=data_dir / "bulk")) as running:
        created = requests.post(
            f"{running.url}/api/lists",
            json={"data": {"type": "list", "attributes": {"name": "VIP"}}},
            headers={**KLAVIYO, "content-type": "application/vnd.api+json"},
            timeout=30,
        )
    assert created.status_code == 201, created.text
    again = open_sandbox(SMALL_STORE, data_dir, rate_limit_scale=1000)
    with ThreadedServer(build_app(again, bulk_dir=data_dir / "bulk")) as running:
        lists = requests.get(f"{running.url}/api/lists", headers=KLAVIYO, timeout=30).json()
        state = requests.get(f"{running.url}/sandbox/state", timeout=30).json()
    assert created.json()["data"]["id"] in [item["id"] for item in lists["data"]]
    assert state["lists"] >= 1
