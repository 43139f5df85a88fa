"""The ?url= fetcher: address policy, allow-list, redirects and size cap, against a real local
HTTP server (reached only by replacing the address policy, as the product never would)."""

from __future__ import annotations

import ipaddress

import pytest

from bgone.server_fetch import UrlFailed, UrlRefused, fetch, host_allowed, is_internal
from tests.httpserver import Route, Server


@pytest.mark.parametrize("ip, internal", [
    ("127.0.0.1", True), ("10.1.2.3", True), ("192.168.1.1", True), ("169.254.169.254", True),
    ("0.0.0.0", True), ("::1", True), ("::ffff:127.0.0.1", True), ("2002:c0a8:0101::", True),
    ("64:ff9b::a00:1", True), ("100.64.0.1", True), ("fd00::1", True),
    ("93.184.216.34", False), ("2606:4700:4700::1111", False), ("8.8.8.8", False),
])
def test_internal_addresses(ip, internal):
    assert is_internal(ipaddress.ip_address(ip)) is internal


def test_allow_list():
    assert host_allowed("Example.COM.", ["example.com"])
    assert host_allowed("img.example.com", ["*.example.com"])
    assert not host_allowed("example.com", ["*.example.com"])
    assert not host_allowed("evilexample.com", ["*.example.com"])
    assert not host_allowed("example.com", [])


def test_loopback_is_refused_even_when_allow_listed():
    with Server() as s:
        url = s.add("/a.png", Route(b"x"))
        with pytest.raises(UrlRefused, match="internal address"):
            fetch(url, ["127.0.0.1"], 100)
        with pytest.raises(UrlRefused, match="internal address"):
            fetch(url.replace("127.0.0.1", "localhost"), ["localhost"], 100)
        assert not s.routes["/a.png"].requests  # never connected


def public(ip):  # the test server is on 127.0.0.1: let only the policy under test differ
    return False


def test_fetch_follows_checked_redirects_and_caps_the_body():
    with Server() as s:
        ok = s.add("/a.png", Route(b"image-bytes"))
        assert fetch(ok, ["127.0.0.1"], 100, internal=public) == b"image-bytes"
        s.add("/r", Route(b"", redirect="/a.png"))
        assert fetch(s.base + "/r", ["127.0.0.1"], 100, internal=public) == b"image-bytes"
        s.add("/out", Route(b"", redirect="http://elsewhere.example/a.png"))
        with pytest.raises(UrlRefused, match="allow-list"):
            fetch(s.base + "/out", ["127.0.0.1"], 100, internal=public)
        s.add("/loop", Route(b"", redirect="/loop"))
        with pytest.raises(UrlFailed, match="redirects"):
            fetch(s.base + "/loop", ["127.0.0.1"], 100, internal=public)
        s.add("/big", Route(b"x" * 1000))
        with pytest.raises(UrlRefused, match="limit"):
            fetch(s.base + "/big", ["127.0.0.1"], 100, internal=public)
        s.add("/liar", Route(b"x" * 1000, content_length=10))  # claims less than it sends
        assert len(fetch(s.base + "/liar", ["127.0.0.1"], 100, internal=public)) == 10
        s.add("/endless", Route(b"x" * 4096, endless=True, endless_limit=1 << 20))
        with pytest.raises(UrlRefused, match="limit"):
            fetch(s.base + "/endless", ["127.0.0.1"], 1000, internal=public)
        s.add("/gone", Route(b"", status=404))
        with pytest.raises(UrlFailed, match="404"):
            fetch(s.base + "/gone", ["127.0.0.1"], 100, internal=public)
    with pytest.raises(UrlRefused, match="http and https"):
        fetch("file:///etc/passwd", ["*"], 100)
