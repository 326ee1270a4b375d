"""Fault injection: parsed strictly, injected at the stated rates, shaped like real failures."""

from __future__ import annotations

import json
import random
import time

import pytest
import requests
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.faults import FaultInjector, FaultSpec, FaultSpecError, corrupt_one_record
from sandbox.threaded_server import ThreadedServer

PAGE = {"data": [{"id": str(i), "attributes": {"updated": "2024-03-01T10:00:00+00:00"}}
                 for i in range(5)]}  # fmt: skip


def _server(spec: FaultSpec, writes: list):
    async def page(request):
        writes.append(request.url.path)
        return JSONResponse(PAGE)

    app = Starlette(routes=[Route("/api/things", page), Route("/sandbox/health", page)])
    app.add_middleware(FaultInjector, spec=spec)
    return ThreadedServer(app)


def test_parse_accepts_the_documented_kinds():
    spec = FaultSpec.parse("429=0.1,5xx=0.05,slow=0.01,drop=0.02,malformed=0.01,slow_seconds=0.5")
    assert spec.rates == {"429": 0.1, "5xx": 0.05, "slow": 0.01, "drop": 0.02, "malformed": 0.01}
    assert spec.slow_seconds == 0.5
    assert FaultSpec.parse("").rates == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [("teapot=0.1", "unknown fault kind"), ("429", "kind=number"), ("5xx=2", "between 0 and 1"),
     ("429=0.6,5xx=0.6", "more than 1")],
)  # fmt: skip
def test_parse_rejects_nonsense_with_a_clear_message(text, message):
    with pytest.raises(FaultSpecError, match=message):
        FaultSpec.parse(text)


def test_rejections_happen_at_the_stated_rate_and_before_the_api():
    writes: list[str] = []
    with _server(FaultSpec.parse("429=0.3,5xx=0.2", seed=3), writes) as server:
        statuses = [requests.get(f"{server.url}/api/things", timeout=5) for _ in range(300)]
    codes = [r.status_code for r in statuses]
    assert 0.2 < codes.count(429) / 300 < 0.4
    assert 0.12 < sum(c >= 500 for c in codes) / 300 < 0.28
    assert all(r.headers["retry-after"] == "1" for r in statuses if r.status_code == 429)
    assert len(writes) == codes.count(200)


def test_dropped_connections_fail_on_the_client_after_the_api_ran():
    writes: list[str] = []
    with _server(FaultSpec.parse("drop=1"), writes) as server:
        broken = (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError)
        with pytest.raises(broken):
            requests.get(f"{server.url}/api/things", timeout=5)
        health = requests.get(f"{server.url}/sandbox/health", timeout=5)
    assert writes == ["/api/things", "/sandbox/health"]
    assert health.status_code == 200  # the sandbox's own endpoints are never faulted


def test_malformed_answers_break_exactly_one_record():
    body = corrupt_one_record(json.dumps(PAGE).encode(), random.Random(1))
    records = json.loads(body)["data"]
    broken = [r for r in records if r.get("attributes", {}).get("updated") == "not-a-timestamp"]
    assert len(broken) == 1
    assert sum(r != original for r, original in zip(records, PAGE["data"], strict=True)) == 1


def test_the_same_seed_injects_the_same_faults():
    def run():
        with _server(FaultSpec.parse("429=0.5", seed=11), []) as server:
            return [requests.get(f"{server.url}/api/things", timeout=5).status_code
                    for _ in range(40)]  # fmt: skip

    assert run() == run()


def test_a_slow_write_takes_effect_though_the_client_gave_up_waiting():
    received: list[bytes] = []

    async def write(request):
        received.append(await request.body())
        return JSONResponse({"ok": True})

    app = Starlette(routes=[Route("/3.0/things", write, methods=["POST"])])
    app.add_middleware(FaultInjector, spec=FaultSpec.parse("slow=1,slow_seconds=1"))
    with ThreadedServer(app) as server, requests.Session() as client:
        with pytest.raises(requests.exceptions.ReadTimeout):
            client.post(f"{server.url}/3.0/things", data=b"x" * 1000, timeout=(5, 0.1))
        client.close()  # the client hangs up long before the answer is ready
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    assert received == [b"x" * 1000]
