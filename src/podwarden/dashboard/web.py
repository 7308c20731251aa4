"""The little of HTTP the dashboard needs, on plain ASGI (as the rest of podwarden's server):
a request read from the scope, responses with the dashboard's security headers, form bodies,
the packaged static files."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from urllib.parse import parse_qs

from podwarden.wire.asgi import Receive, Scope, Send, is_loopback, read_body

MAX_FORM = 16 * 1024

# Everything the pages load comes from the dashboard's own path: scripts and styles from
# static/, fragments and the event stream from the server. No inline script or style runs.
SECURITY_HEADERS = (
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
)

STATIC_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # below the dashboard's prefix, "/" at least
    query: dict[str, str]
    headers: dict[str, str]
    client: str

    @classmethod
    def of(cls, scope: Scope, prefix: str) -> Request:
        headers: dict[str, str] = {}
        for k, v in scope.get("headers") or []:
            headers[k.decode("latin-1").lower()] = v.decode("latin-1")
        query = {
            k: v[-1] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()
        }
        client = scope.get("client") or ("", 0)
        path = str(scope["path"])[len(prefix) :] or ""
        return cls(str(scope["method"]), path, query, headers, str(client[0]))

    @property
    def loopback(self) -> bool:
        return is_loopback({"client": (self.client, 0)})

    @property
    def htmx(self) -> bool:
        return self.headers.get("hx-request") == "true"

    def same_origin(self) -> bool:
        """A form post from the dashboard's own pages: no other site's page may sign a browser
        in or out. ``Origin`` must be this server's; where a browser hides it (``null``) its
        ``Sec-Fetch-Site`` must say same-origin; a client that sends neither header is no
        browser on another site's page."""
        origin = self.headers.get("origin")
        fetch_site = self.headers.get("sec-fetch-site")
        if origin is not None and origin != "null":
            return origin == f"http://{self.headers.get('host', '')}"
        if fetch_site is not None:
            return fetch_site in ("same-origin", "none")
        return origin is None


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)

    async def send(self, send: Send, *, head: bool = False) -> None:
        headers = [
            ("content-type", self.content_type),
            ("content-length", str(len(self.body))),
            *SECURITY_HEADERS,
            *self.headers,
        ]
        if not any(k == "cache-control" for k, _ in self.headers):
            headers.append(("cache-control", "no-store"))
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
            }
        )
        await send({"type": "http.response.body", "body": b"" if head else self.body})


def html(body: str, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(status, body.encode(), headers=headers or [])


def text(message: str, status: int) -> Response:
    return Response(status, message.encode(), "text/plain; charset=utf-8")


def redirect(location: str, headers: list[tuple[str, str]] | None = None) -> Response:
    return Response(303, b"", headers=[("location", location), *(headers or [])])


async def read_form(receive: Receive) -> dict[str, str] | None:
    """An urlencoded form body (the last value of each field); None when too large or cut."""
    body = await read_body(receive, MAX_FORM)
    if body is None:
        return None
    fields = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in fields.items()}


def static_file(name: str) -> Response | None:
    """A file of the package's ``static/`` folder (a plain name, no folders), or None."""
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    if "/" in name or name.startswith(".") or suffix not in STATIC_TYPES:
        return None
    found = resources.files("podwarden.dashboard").joinpath("static", name)
    if not found.is_file():
        return None
    return Response(
        200,
        found.read_bytes(),
        STATIC_TYPES[suffix],
        [("cache-control", "public, max-age=3600")],
    )
