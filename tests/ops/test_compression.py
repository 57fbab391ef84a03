"""permessage-deflate on the production server (issue 14, item 5) is uvicorn's
`--ws-per-message-deflate` (also read from UVICORN_WS_PER_MESSAGE_DEFLATE):
the project's protocol (`realtime.wsprotocol`) honours it both ways, and agrees
to it without context takeover (realtime.wsframes; docs/operations.md,
"Compression")."""

import pytest

from tests.test_server_process import Server, open_socket, prepare_template, recv


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return prepare_template(tmp_path_factory)


@pytest.mark.parametrize(("setting", "agreed"), [("false", False), ("true", True)])
def test_the_deflate_setting_decides_what_a_browser_like_client_gets(
    template, tmp_path, setting, agreed
):
    server = Server(
        "uvicorn", tmp_path, template, UVICORN_WS_PER_MESSAGE_DEFLATE=setting
    )
    try:
        # The websockets client offers permessage-deflate, as browsers do.
        with open_socket(server, f"?token={server.token()}") as client:
            assert recv(client)["type"] == "auth_success"
            names = [ext.name for ext in client.protocol.extensions]
            assert names == (["permessage-deflate"] if agreed else [])
            if agreed:
                (ext,) = client.protocol.extensions
                assert ext.local_no_context_takeover  # the client's side
                assert ext.remote_no_context_takeover  # the server's side
    finally:
        server.stop()
