"""A list create whose answer is lost (the emulator made the list, the connection then died) is
not re-sent blindly: the client looks first, and one list exists in the end."""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from pipeline.lib.clients.klaviyo_writes import KlaviyoWriteClient
from tests.lib.clients.sandbox_fixtures import quiet_session, serve


class DropAfterCreate(HTTPAdapter):
    """Sends every request; the answer to the first `drops` list creates is lost on the way."""

    def __init__(self, drops: int) -> None:
        super().__init__()
        self.drops = drops

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if request.method == "POST" and request.path_url == "/api/lists" and self.drops:
            self.drops -= 1
            response.close()
            raise requests.ConnectionError("connection dropped after the write")
        return response


def test_a_lost_create_answer_does_not_make_a_second_list(small_store_view, tmp_path):
    with serve(small_store_view, tmp_path) as sandbox:
        session = quiet_session("Klaviyo", "KLAVIYO_API_KEY")
        session.http.mount("http://", DropAfterCreate(drops=1))
        client = KlaviyoWriteClient(sandbox.url, "sandbox-key", session)
        list_id = client.ensure_list("Foresight: test lost answer")
        lists = list(client._collection("get_lists", "/api/lists", {}))
    named = [found["id"] for found in lists if found["attributes"]["name"].endswith("lost answer")]
    assert named == [list_id]
