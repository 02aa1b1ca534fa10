"""Optional authentication for a team deployment; off unless configured.

- `INTERPBOARD_TOKEN`: a shared token, sent as `Authorization: Bearer <token>`, or once as
  `?token=<token>` in a link, after which a cookie (derived from the token, not the token) carries it.
- `INTERPBOARD_USERS="alice:pw,bob:pw"` and/or `INTERPBOARD_USERS_FILE` (one `user:password` a
  line, `#` comments): HTTP basic auth, which browsers prompt for.

Pages and the API accept the same credentials; /api/health (for health checks, its verdicts only:
no addresses or pids to the unauthenticated) and /api/openapi.json stay open.
Every secret comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, Response, redirect, request

from dashapp.api import is_api_path, json_error  # one JSON error shape for the whole API
from interp.settings import WebSettings, settings

log = logging.getLogger(__name__)

OPEN_PATHS = frozenset({"/api/health", "/api/openapi.json"})
COOKIE = "interpboard_session"
REALM = "interpboard"
GUNICORN_DEFAULT_BIND = "127.0.0.1:8000"


@dataclass(frozen=True)
class Credentials:
    token: str | None = None
    users: dict[str, str] = field(default_factory=dict)

    @property
    def enabled(self) -> bool:
        return bool(self.token or self.users)

    def session_value(self) -> str:
        """The cookie's value: proves the token was given, without storing the token in the browser."""
        assert self.token
        return hmac.new(self.token.encode(), b"interpboard session", hashlib.sha256).hexdigest()


def _parse_users(entries: list[str], where: str) -> dict[str, str]:
    users: dict[str, str] = {}
    for entry in entries:
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, password = entry.partition(":")
        if not sep or not name or not password:
            raise ValueError(f"{where}: expected user:password entries, got one without a name or password")
        users[name] = password
    return users


def load_credentials(web: WebSettings | None = None) -> Credentials:
    """The credentials of the web settings section (this process's, by default)."""
    web = web if web is not None else settings().web
    users = _parse_users(web.users.split(","), "INTERPBOARD_USERS")
    if web.users_file:  # one a line, so passwords may hold commas
        users |= _parse_users(Path(web.users_file).read_text(encoding="utf-8").splitlines(), web.users_file)
    return Credentials(token=web.token or None, users=users)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _user_ok(creds: Credentials, name: str, password: str) -> bool:
    # Compare against something even for unknown names, so timing does not tell which names exist.
    expected = creds.users.get(name, "\0" * 16)
    return _same(password, expected) and name in creds.users


def _authorised(creds: Credentials) -> bool:
    auth = request.authorization
    if auth is not None:
        if auth.type == "bearer" and creds.token and auth.token and _same(auth.token, creds.token):
            return True
        if auth.type == "basic" and creds.users and _user_ok(creds, auth.username or "", auth.password or ""):
            return True
    cookie = request.cookies.get(COOKIE)
    return bool(creds.token and cookie and _same(cookie, creds.session_value()))


def _with_session_cookie(response: Response, creds: Credentials) -> Response:
    response.set_cookie(
        COOKIE,
        creds.session_value(),
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        max_age=30 * 86400,
    )
    return response


def _challenge(creds: Credentials) -> Response:
    scheme = f'Basic realm="{REALM}"' if creds.users else f'Bearer realm="{REALM}"'
    how = " or ".join(
        filter(
            None,
            [
                "a user name and password" if creds.users else "",
                "the team token (Authorization: Bearer, or ?token= in the link)" if creds.token else "",
            ],
        )
    )
    message = f"authentication required: this interpboard needs {how}"
    if is_api_path(request.path):
        response = json_error(401, message)
    else:
        response = Response(message + "\n", status=401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = scheme
    return response


def _gate(creds: Credentials) -> Response | None:
    if request.path in OPEN_PATHS or _authorised(creds):
        return None
    given = request.args.get("token")
    if creds.token and given and _same(given, creds.token):
        if request.method == "GET" and not is_api_path(request.path):
            # Drop the token from the address bar (and from history and Referer), keep the cookie.
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            target = request.path + (f"?{urlencode(rest)}" if rest else "")
            return _with_session_cookie(redirect(target, code=302), creds)
        return None
    return _challenge(creds)


def install_auth(app, creds: Credentials | None = None) -> Credentials:
    """Guard every route of `app` (Dash or Flask) when credentials are configured; returns them."""
    creds = creds if creds is not None else load_credentials()
    if creds.enabled:
        server: Flask = getattr(app, "server", app)
        server.before_request(partial(_gate, creds))
        # For the API: who may see /api/health's details, and whom the fair-use caps count.
        server.extensions["interpboard_authorised"] = partial(_authorised, creds)
        server.extensions["interpboard_user"] = partial(_basic_user, creds)
    return creds


def _basic_user(creds: Credentials) -> str | None:
    """The user name of a request the gate let in with basic auth (a token names no one)."""
    auth = request.authorization
    if auth is not None and auth.type == "basic" and creds.users and auth.username in creds.users:
        return auth.username
    return None


def listen_hosts(binds: list[str], override: str | None = None) -> list[str]:
    """The hosts the server listens on: `override` ($INTERPBOARD_BIND) when set, else its binds."""
    return [_host(bind) for bind in ([override] if override else binds) or [GUNICORN_DEFAULT_BIND]]


def _host(bind: str) -> str:
    if bind.startswith(("unix:", "fd://")):
        return "unix:"
    if bind.startswith("["):  # [::]:8050
        return bind[: bind.index("]") + 1]
    return bind.split(":", 1)[0]


def is_loopback(host: str) -> bool:
    if host.startswith("unix:") or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: may resolve to anything


def warn_if_open(host: str, creds: Credentials | None = None, logger: logging.Logger | None = None) -> bool:
    """Log a warning when serving beyond this machine without authentication; True if it warned."""
    creds = creds if creds is not None else load_credentials()
    if creds.enabled or is_loopback(host):
        return False
    (logger or log).warning(
        "interpboard is listening on %s WITHOUT authentication: anyone who can reach it can run and read "
        "analyses. Set INTERPBOARD_TOKEN or INTERPBOARD_USERS (see docs/deploy.md).",
        host or "all interfaces",
    )
    return True
