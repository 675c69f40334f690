"""Outbound HTTP with timeouts, a size cap and an SSRF guard on the resolved address.

Every address a host name resolves to is checked before connecting: loopback, private,
link-local, multicast, reserved and unspecified addresses are refused unless the
deployment allows them (``MINIBASE_WEBHOOK_ALLOW_PRIVATE``). Plain ``http`` requests then
connect to the checked address itself (the ``Host`` header keeps the name), so a second
DNS answer cannot swap in another address; redirects are followed by hand, each target
checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import httpx

MAX_REDIRECTS = 3


class BlockedAddress(ValueError):
    """The URL's host resolves to an address that outbound requests may not reach."""


class ResponseTooLarge(ValueError):
    """The response body passed the size cap."""


@dataclass(frozen=True, slots=True)
class FetchResult:
    status: int
    headers: dict[str, str]
    body: bytes


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def resolve_checked(url: str, *, allow_private: bool) -> str:
    """The first address ``url``'s host resolves to, after checking every one of them."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        # Control characters, a bad port or an unencodable host: a 422, never a 500.
        raise BlockedAddress(f"Not a valid URL: {exc}") from None
    if parsed.scheme not in {"http", "https"} or not parsed.host:
        raise BlockedAddress("Only http and https URLs with a host are allowed.")
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parsed.host, port, type=socket.SOCK_STREAM
        )
    except UnicodeError:
        raise BlockedAddress("The host name cannot be encoded (IDNA).") from None
    except OSError as exc:
        raise BlockedAddress(f"Cannot resolve {parsed.host}: {exc.strerror or exc}.") from None
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise BlockedAddress(f"{parsed.host} has no address.")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise BlockedAddress(
                    f"{parsed.host} resolves to {address}, a private or local address."
                )
    return addresses[0]


async def check_url(url: str, *, allow_private: bool) -> None:
    """Raise :class:`BlockedAddress` unless ``url`` may be requested."""
    await resolve_checked(url, allow_private=allow_private)


async def fetch(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    content: bytes | None = None,
    timeout: float = 10.0,  # noqa: ASYNC109 - covers resolution, redirects and the body
    max_bytes: int = 1024 * 1024,
    allow_private: bool = False,
    client: httpx.AsyncClient | None = None,
) -> FetchResult:
    """One request (redirects followed by hand, each target checked), body capped."""
    own = client is None
    http = client or httpx.AsyncClient(follow_redirects=False, trust_env=False)
    try:
        async with asyncio.timeout(timeout):
            for _ in range(MAX_REDIRECTS + 1):
                address = await resolve_checked(url, allow_private=allow_private)
                target = httpx.URL(url)
                send_headers = dict(headers or {})
                if target.scheme == "http":
                    send_headers.setdefault("Host", target.netloc.decode("ascii"))
                    host = f"[{address}]" if ":" in address else address
                    target = target.copy_with(host=host.strip("[]"))
                request = http.build_request(method, target, headers=send_headers, content=content)
                response = await http.send(request, stream=True)
                try:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        if response.status_code in (301, 302, 303):
                            method, content = "GET", None
                        continue
                    body = await _read_capped(response, max_bytes)
                    return FetchResult(response.status_code, dict(response.headers), body)
                finally:
                    await response.aclose()
            raise BlockedAddress(f"More than {MAX_REDIRECTS} redirects.")
    finally:
        if own:
            await http.aclose()


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"The response is larger than {max_bytes} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


def decode_body(result: FetchResult) -> Any:
    """The body as JSON when it is JSON, else as text."""
    import orjson

    kind = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return orjson.loads(result.body)
        except orjson.JSONDecodeError:
            pass
    return result.body.decode("utf-8", errors="replace")
