"""Session and sign-in cookies are Secure by default: only a plain-HTTP request to a loopback address of the
server under a loopback host name (a server bound to 127.0.0.1/localhost/::1, as the demo's) gets them without
Secure; `secure_cookies` forces Secure, `insecure_cookies` drops it. TestClient on real data (test_web_fixture),
and the real server (uvicorn) on a loopback and, where the machine has one, a non-loopback address."""
from __future__ import annotations

import socket

import httpx
import pytest

from web.app import create_app
from web.auth import is_loopback

from .test_web_fixture import PASSWORD, client, fresh_copy, serving, sign_in


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return fresh_copy(tmp_path_factory)


def _cookies(c, **headers) -> dict[str, str]:
    """name -> Set-Cookie header of the sign-in form's and the API sign-in's cookies."""
    out = {}
    for r in (c.get("/login", headers=headers),
              c.post("/api/session", json={"username": "qa", "password": PASSWORD}, headers=headers)):
        for h in r.headers.get_list("set-cookie"):
            if "max-age=0" not in h.lower():  # not the deletion of the sign-in form's cookie
                out[h.split("=", 1)[0]] = h
    assert set(out) >= {"callqa_login", "callqa_session"}, out
    return out


def _secure(header: str) -> bool:
    return "secure" in [p.strip().lower() for p in header.split(";")]


def test_is_loopback():
    for host in ("127.0.0.1", "127.0.0.1:8000", "localhost", "LOCALHOST:8000", "::1", "[::1]:8000", "127.8.9.1",
                 "app.localhost"):
        assert is_loopback(host), host
    for host in ("", None, "10.0.0.5", "10.0.0.5:8000", "0.0.0.0", "::", "testserver", "qa.example.com",
                 "localhost.example.com", "[2001:db8::1]:443", "127.0.0.1.nip.io"):
        assert not is_loopback(host), host


def test_secure_by_default_except_plain_http_on_loopback(data):
    store, src, _ = data
    for base in ("http://127.0.0.1", "http://localhost:8000", "http://[::1]:8000"):
        assert not any(_secure(h) for h in _cookies(client(store, src, base_url=base)).values()), base
    for base in ("http://testserver", "http://10.1.2.3:8000", "http://qa.example.com", "https://127.0.0.1",
                 "https://qa.example.com"):
        assert all(_secure(h) for h in _cookies(client(store, src, base_url=base)).values()), base
    # a loopback connection under another host name: a proxy in front, or a browser on another machine
    proxied = _cookies(client(store, src), host="qa.example.com")
    assert all(_secure(h) for h in proxied.values())
    # and every cookie keeps HttpOnly and SameSite=Strict either way
    for h in (*proxied.values(), *_cookies(client(store, src)).values()):
        assert "httponly" in h.lower() and "samesite=strict" in h.lower()


def test_secure_and_insecure_options(data):
    store, src, _ = data
    forced = client(store, src, secure_cookies=True)  # loopback, but told the site is HTTPS (a TLS proxy)
    assert all(_secure(h) for h in _cookies(forced).values())
    plain = client(store, src, base_url="http://qa.example.com", insecure_cookies=True)
    assert not any(_secure(h) for h in _cookies(plain).values())
    assert sign_in(client(store, src, base_url="http://qa.example.com", insecure_cookies=True), "qa").status_code == 303
    # without the option the browser (here httpx, which follows the same rule) does not send a Secure cookie
    # back over plain HTTP: the sign-in form's token cookie is missing and the sign-in is refused
    assert sign_in(client(store, src, base_url="http://qa.example.com"), "qa").status_code == 403
    with pytest.raises(ValueError):
        create_app(store, src, secure_cookies=True, insecure_cookies=True, sync_on_start=False)


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: picks the interface a route would use
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if is_loopback(address) or address == "0.0.0.0" else address


def test_the_real_server_on_loopback_and_on_a_network_address(data):
    store, src, _ = data
    app = create_app(store, src, secret_key="cookies", sync_on_start=False)
    with serving(app, "127.0.0.1") as base, httpx.Client(base_url=base) as c:
        assert not any(_secure(h) for h in _cookies(c).values()), "the demo's case: loopback, plain HTTP"
        assert c.get("/api/me").status_code == 200, "signed in"
    address = _non_loopback_address()
    if address is None:
        return  # no network interface here besides loopback
    with serving(app, "0.0.0.0") as base:
        port = base.rsplit(":", 1)[1]
        with httpx.Client(base_url=f"http://{address}:{port}") as c:
            assert all(_secure(h) for h in _cookies(c).values()), "reached over the network: Secure"
            assert c.get("/api/me").status_code == 401, "and not sent back over plain HTTP"
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            assert not any(_secure(h) for h in _cookies(c).values()), "a local browser on the same server"
