"""The security headers every HTTP response carries.

One precomputed list per kind of response, added by :class:`RequestContextMiddleware`
(the one place that already edits response headers), so they cost an append and no
middleware layer of their own:

- every response: ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
  ``Referrer-Policy: no-referrer``, ``Cross-Origin-Opener-Policy: same-origin``;
- JSON, files and everything but HTML: ``Content-Security-Policy: default-src 'none';
  frame-ancestors 'none'`` (nothing in an API answer may load or run anything);
- HTML (``/docs`` and the dashboard): :data:`HTML_CSP`, which allows the page's own
  origin and nothing else (Swagger UI is served from the package, no CDN);
- ``Strict-Transport-Security`` when the server speaks TLS (``--tls-cert``/``--tls-key``):
  a browser that once reached it over HTTPS never tries plain HTTP again for a year.
"""

from __future__ import annotations

from collections.abc import Sequence

Header = tuple[bytes, bytes]

API_CSP = "default-src 'none'; frame-ancestors 'none'"
HTML_CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; "
    "font-src 'self'; "
    "img-src 'self' data:; "
    "connect-src 'self' ws: wss:; "
    "worker-src 'self' blob:; "
    "object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


class SecurityHeaders:
    """The headers to add to a response, chosen by its content type."""

    def __init__(self, *, hsts: bool) -> None:
        common: list[Header] = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            common.append((b"strict-transport-security", HSTS.encode("ascii")))
        self.api: tuple[Header, ...] = (
            *common,
            (b"content-security-policy", API_CSP.encode("ascii")),
        )
        self.html: tuple[Header, ...] = (
            *common,
            (b"content-security-policy", HTML_CSP.encode("ascii")),
        )

    def for_response(self, headers: Sequence[Header]) -> tuple[Header, ...]:
        """The headers to append to a response that already has ``headers``."""
        for name, value in headers:
            if name == b"content-type":
                return self.html if value.startswith(b"text/html") else self.api
        return self.api
