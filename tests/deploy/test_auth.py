"""Optional team authentication: token (header, link + cookie), basic-auth users, open health check."""

from __future__ import annotations

import base64
import logging

import pytest
from flask import Flask

from dashapp.api import register_api
from dashapp.auth import (
    COOKIE,
    Credentials,
    install_auth,
    is_loopback,
    listen_hosts,
    load_credentials,
    warn_if_open,
)
from interp.settings import WebSettings

TOKEN = "s3cret-team-token"


def make_server(creds: Credentials) -> Flask:
    server = Flask("auth-test")
    server.get("/")(lambda: "the dashboard")
    register_api(server, lambda: pytest.fail("the executor is not needed here"))
    install_auth(server, creds)
    return server


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_off_by_default() -> None:
    creds = load_credentials(WebSettings(token=None, users="", users_file=None))
    assert not creds.enabled
    client = make_server(creds).test_client()
    assert client.get("/").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200


def test_token_as_bearer_header() -> None:
    client = make_server(Credentials(token=TOKEN)).test_client()
    page = client.get("/")
    assert page.status_code == 401 and "token" in page.get_data(as_text=True)
    api = client.get("/api/models")
    assert api.status_code == 401 and api.json["error"].startswith("authentication required")
    assert api.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/models", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_token_in_a_link_once_then_cookie() -> None:
    client = make_server(Credentials(token=TOKEN)).test_client()
    first = client.get(f"/?token={TOKEN}&layer=2")
    assert (
        first.status_code == 302 and first.headers["Location"] == "/?layer=2"
    )  # token gone from the address
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None and TOKEN not in cookie.value and cookie.http_only
    assert client.get("/").status_code == 200
    assert client.get("/api/openapi.json").status_code == 200
    client.delete_cookie(COOKIE)
    assert client.get("/").status_code == 401
    assert client.get("/?token=wrong").status_code == 401


def test_forged_cookie_is_refused() -> None:
    client = make_server(Credentials(token=TOKEN)).test_client()
    client.set_cookie(COOKIE, Credentials(token="another").session_value())
    assert client.get("/").status_code == 401


def test_basic_auth_users(tmp_path) -> None:
    users_file = tmp_path / "users"
    users_file.write_text("# team\ncarol:pw,3\n")
    creds = load_credentials(WebSettings(users="alice:pw1, bob:p:w2", users_file=str(users_file)))
    assert creds.users == {"alice": "pw1", "bob": "p:w2", "carol": "pw,3"}
    client = make_server(creds).test_client()
    challenge = client.get("/")
    assert (
        challenge.status_code == 401 and challenge.headers["WWW-Authenticate"] == 'Basic realm="interpboard"'
    )
    assert client.get("/", headers=basic("alice", "pw1")).status_code == 200
    assert client.get("/", headers=basic("bob", "p:w2")).status_code == 200
    assert client.get("/api/models", headers=basic("carol", "pw,3")).status_code == 200
    assert client.get("/", headers=basic("alice", "pw2")).status_code == 401
    assert client.get("/", headers=basic("mallory", "pw1")).status_code == 401


def test_token_and_users_together() -> None:
    client = make_server(Credentials(token=TOKEN, users={"alice": "pw1"})).test_client()
    assert client.get("/", headers=basic("alice", "pw1")).status_code == 200
    assert client.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert client.get("/", headers=basic("alice", TOKEN)).status_code == 401


def test_malformed_users_are_a_clear_error() -> None:
    with pytest.raises(ValueError, match="user:password"):
        load_credentials(WebSettings(users="alice"))


def test_api_post_with_token_in_query_is_accepted_without_redirect() -> None:
    server = make_server(Credentials(token=TOKEN))
    response = server.test_client().post(f"/api/analyses?token={TOKEN}", data="x", content_type="text/plain")
    assert response.status_code == 415  # past the gate, refused by the API for its body


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("[::1]", True),
        ("unix:", True),
        ("0.0.0.0", False),
        ("[::]", False),
        ("10.1.2.3", False),
        ("", False),
        ("example.org", False),
    ],
)
def test_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_warns_when_open_beyond_loopback(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="dashapp.auth"):
        assert warn_if_open("0.0.0.0", Credentials()) is True
        assert not warn_if_open("127.0.0.1", Credentials())
        assert not warn_if_open("0.0.0.0", Credentials(token=TOKEN))
    (record,) = caplog.records
    assert "WITHOUT authentication" in record.getMessage() and "INTERPBOARD_TOKEN" in record.getMessage()


def test_listen_hosts() -> None:
    assert listen_hosts(["0.0.0.0:8050"]) == ["0.0.0.0"]
    assert listen_hosts(["127.0.0.1:1", "[::]:2"]) == ["127.0.0.1", "[::]"]
    assert listen_hosts(["0.0.0.0:1"], "unix:/run/x.sock") == ["unix:"]
    assert listen_hosts([]) == ["127.0.0.1"]  # gunicorn's default


def test_gunicorn_warns_once_when_ready(caplog) -> None:
    """The master's when_ready hook warns for each bound address open without auth (not each worker)."""
    from types import SimpleNamespace

    from dashapp import gunicorn_conf

    logger = logging.getLogger("test.gunicorn")
    server = SimpleNamespace(cfg=SimpleNamespace(bind=["0.0.0.0:8050", "127.0.0.1:1"]), log=logger)
    with caplog.at_level(logging.WARNING, logger="test.gunicorn"):
        gunicorn_conf.when_ready(server)
    (record,) = caplog.records
    assert "WITHOUT authentication" in record.getMessage() and "0.0.0.0" in record.getMessage()


def test_health_shows_no_topology_to_the_unauthenticated_when_auth_is_on() -> None:
    server = Flask("health-test")
    register_api(server, lambda: pytest.fail("the embedded executor is not needed"))
    install_auth(server, Credentials(token=TOKEN))
    client = server.test_client()
    server.extensions["interpboard_executor"] = lambda: (_ for _ in ()).throw(
        ConnectionError("10.1.2.3:6379")
    )
    anonymous = client.get("/api/health").json
    assert set(anonymous["checks"]["web"]) == {"ok"} and "pid" not in str(anonymous)
    assert "6379" not in str(anonymous) and anonymous["checks"]["cache"] == {"ok": False}
    insider = client.get("/api/health", headers={"Authorization": f"Bearer {TOKEN}"}).json
    assert "pid" in insider["checks"]["web"]["detail"] and "6379" in insider["checks"]["cache"]["detail"]
