"""The hop-count rule (``SENTIMENT_PROXY_HOPS``): with N reverse proxies in front of the app, each appending to
X-Forwarded-For, a request's client (and so its feedback-limit key) is the address the outermost proxy appended,
whatever the visitor wrote; and the settings that choose N (default 1 on a Hugging Face Space, refused together
with SENTIMENT_TRUSTED_PROXIES)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from sentiment.settings import Settings
from sentiment.web.clients import address_key, client_key
from sentiment.web.forwarded import ForwardedHopsMiddleware, hop_entry, parse_address

PEER = ("10.16.3.80", 41234)  # the innermost proxy, as a Space's app sees it (mteb#4754)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class _App:
    """An ASGI app behind the real middleware with ``hops``, recording the scope each request reaches it with."""

    def __init__(self, hops: int) -> None:
        self.middleware = ForwardedHopsMiddleware(self._record, hops=hops)
        self.seen: dict[str, Any] = {}

    async def _record(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.seen = dict(scope)

    def request(self, lines: list[bytes], peer: tuple[str, int] = PEER) -> dict[str, Any]:
        """The scope the app sees for a request from ``peer`` with these X-Forwarded-For header lines."""
        scope: Scope = {
            "type": "http",
            "method": "POST",
            "path": "/gradio_api/call/feedback",
            "headers": [(b"host", b"app")] + [(b"x-forwarded-for", line) for line in lines],
            "client": peer,
        }

        async def receive() -> Message:
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            pass

        asyncio.run(self.middleware(scope, receive, send))
        return self.seen


def _appended(address: IPAddress, port: int | None) -> str:
    """What a proxy appends for its peer ``address``: the address, or with a port as some proxies write it."""
    if port is None:
        return str(address)
    return f"[{address}]:{port}" if address.version == 6 else f"{address}:{port}"


client_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=30)  # any latin-1, commas too


@hsettings(max_examples=200, deadline=None)
@given(
    client_lines=st.lists(client_text, max_size=3),
    proxies=st.lists(
        st.tuples(st.ip_addresses(), st.none() | st.integers(1, 65535), st.booleans()), min_size=1, max_size=4
    ),
)
def test_the_client_is_what_the_outermost_trusted_proxy_appended_whatever_the_visitor_wrote(
    client_lines: list[str], proxies: list[tuple[IPAddress, int | None, bool]]
) -> None:
    """The property: a visitor writes any X-Forwarded-For lines (any latin-1 text, commas included), then N
    proxies each append the address they received the request from (on the last header line, or a line of their
    own; with or without a port). With SENTIMENT_PROXY_HOPS = N, the request's client is the address the first,
    outermost, proxy appended, with its port (0 without), and the feedback-limit key is that address's key."""
    lines = [text.encode("latin-1") for text in client_lines]
    for address, port, own_line in proxies:
        entry = _appended(address, port).encode()
        if own_line or not lines:
            lines.append(entry)
        else:
            lines[-1] += b", " + entry
    outermost, port, _ = proxies[0]
    seen = _App(hops=len(proxies)).request(lines)
    assert seen["client"] == (str(outermost), port or 0)
    assert client_key(Request(seen)) == address_key(str(outermost))


@hsettings(max_examples=100, deadline=None)
@given(visitor=st.ip_addresses(), forged=st.lists(st.ip_addresses(), min_size=1, max_size=3))
def test_a_forged_entry_never_changes_the_key_and_a_different_visitor_gets_a_different_one(
    visitor: IPAddress, forged: list[IPAddress]
) -> None:
    """Behind one proxy (the Space's): the same visitor with and without forged entries on the left has one key;
    a forged entry names no one (its key is never the forged address's, unless that is the visitor's own)."""
    space = _App(hops=1)
    plain = client_key(Request(space.request([str(visitor).encode()])))
    forging = client_key(Request(space.request([", ".join(map(str, [*forged, visitor])).encode()])))
    assert forging == plain == address_key(str(visitor))
    assert all(forging != address_key(str(f)) for f in forged if address_key(str(f)) != plain)


def test_fewer_entries_than_hops_keep_the_peer_and_say_so_once(caplog: pytest.LogCaptureFixture) -> None:
    """With 2 hops, a request that passed only one proxy (one entry), one without the header and one whose entry
    at the position is not an address all keep the peer as client (a visitor cannot promote its own entry); the
    log says so once, naming the setting."""
    app = _App(hops=2)
    with caplog.at_level(logging.WARNING, logger="sentiment.web.forwarded"):
        assert app.request([b"198.51.100.1"])["client"] == PEER
        assert app.request([])["client"] == PEER
        assert app.request([b"unknown, 198.51.100.1"])["client"] == PEER
        assert app.request([b"198.51.100.9, 198.51.100.1"])["client"] == ("198.51.100.9", 0)  # enough: used
    warnings = [r.getMessage() for r in caplog.records if r.name == "sentiment.web.forwarded"]
    assert len(warnings) == 1 and "SENTIMENT_PROXY_HOPS is 2" in warnings[0] and "1 X-Forwarded-For" in warnings[0]


def test_hops_below_one_is_not_a_middleware() -> None:
    with pytest.raises(ValueError, match="hops >= 1"):
        _App(hops=0)


@pytest.mark.parametrize(
    ("forwarded", "hops", "entry"),
    [
        ("a, b, c", 1, "c"),
        ("a, b, c", 3, "a"),
        ("a, b", 3, None),
        ("", 1, None),
        ("a,, ", 1, None),  # an empty entry where the proxy's should be: nothing
        ("a, b", 0, None),
    ],
)
def test_hop_entry_counts_from_the_right(forwarded: str, hops: int, entry: str | None) -> None:
    assert hop_entry(forwarded, hops) == entry


@pytest.mark.parametrize(
    ("entry", "parsed"),
    [
        ("198.51.100.1", ("198.51.100.1", 0)),
        ("198.51.100.1:8080", ("198.51.100.1", 8080)),
        ("2001:DB8::1", ("2001:db8::1", 0)),
        ("[2001:db8::1]:443", ("2001:db8::1", 443)),
        ("[2001:db8::1]", ("2001:db8::1", 0)),
        ("198.51.100.1:99999", None),
        ("[2001:db8::1]x", None),
        ("unknown", None),
        ("_hidden", None),
        ("proxy.example:80", None),
    ],
)
def test_parse_address_takes_addresses_with_or_without_a_port_and_nothing_else(
    entry: str, parsed: tuple[str, int] | None
) -> None:
    assert parse_address(entry) == parsed


# --- settings ----------------------------------------------------------------------------------------------------
@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the settings that choose the forwarded-header rule."""
    for name in ("SPACE_ID", "SENTIMENT_PROXY_HOPS", "SENTIMENT_TRUSTED_PROXIES"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_off_a_space_no_hop_is_counted_and_on_a_space_one_is(env: pytest.MonkeyPatch) -> None:
    """Off a Space the header is ignored (0); with SPACE_ID set, as Spaces set it, the Space's one proxy is counted
    (1), unless the owner set SENTIMENT_PROXY_HOPS (an explicit 0 wins) or listed the proxies instead."""
    assert Settings().forwarded_hops == 0
    env.setenv("SPACE_ID", "owner/sentiment")
    assert Settings().forwarded_hops == 1
    env.setenv("SENTIMENT_PROXY_HOPS", "0")
    assert Settings().forwarded_hops == 0
    env.setenv("SENTIMENT_PROXY_HOPS", "2")
    assert Settings().forwarded_hops == 2
    env.delenv("SENTIMENT_PROXY_HOPS")
    env.setenv("SENTIMENT_TRUSTED_PROXIES", "10.0.0.0/8")
    assert Settings().forwarded_hops == 0 and Settings().trusted_proxy_list == ["10.0.0.0/8"]


@pytest.mark.parametrize("hops", [-1, 33])
def test_a_hop_count_out_of_range_stops_the_app_at_start(env: pytest.MonkeyPatch, hops: int) -> None:
    env.setenv("SENTIMENT_PROXY_HOPS", str(hops))
    with pytest.raises(ValidationError, match="proxy_hops"):
        Settings()


@pytest.mark.parametrize("hops", ["0", "1"])
def test_both_ways_of_naming_the_proxies_at_once_are_refused(env: pytest.MonkeyPatch, hops: str) -> None:
    """SENTIMENT_TRUSTED_PROXIES and SENTIMENT_PROXY_HOPS say the same thing two ways: both set (even hops 0) is
    refused with a message naming both and which to keep."""
    env.setenv("SENTIMENT_TRUSTED_PROXIES", "10.0.0.0/8")
    env.setenv("SENTIMENT_PROXY_HOPS", hops)
    with pytest.raises(ValidationError, match="both SENTIMENT_TRUSTED_PROXIES and SENTIMENT_PROXY_HOPS") as refused:
        Settings()
    assert "keep the proxy list if the proxies' addresses are fixed" in str(refused.value)
