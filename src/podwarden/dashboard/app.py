"""The dashboard's ASGI app, mounted by ``api.app`` at :data:`PREFIX` (a path no S3 path-style
request can address: bucket names have no ``_``).

Routes, below the prefix (GET unless said):

- ``/`` the clusters; ``/clusters`` that list as a fragment;
- ``/clusters/<id>`` one cluster's page, with the fragments ``/clusters/<id>/summary``,
  ``/grid``, ``/timeline``, ``/jobs`` and ``/nodes/<instance id>``;
- ``/events`` the page's live updates (Server-Sent Events, ``dashboard.live``);
- ``/login`` (GET, POST) and ``/logout`` (POST): the session (``dashboard.sessions``);
- ``/static/<file>``: htmx, its sse extension, the style sheet and the page's script.

Read-only: nothing here changes a cluster; the only forms sign a browser in and out, and they
must come from the dashboard's own pages. Loopback clients only (403 otherwise), even when
``--host`` widens the API's listener. Without auth (``--no-auth``) there is no sign-in and the
pages show the first local credential's account, as the API then acts as that account.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from podwarden.dashboard.live import CLUSTERS, LiveChanges, nodes_event, records_event
from podwarden.dashboard.pages import Pages
from podwarden.dashboard.sessions import (
    Principal,
    Sessions,
    clear_cookie,
    cookie_value,
    set_cookie,
)
from podwarden.dashboard.sources import Sources
from podwarden.dashboard.web import (
    Request,
    Response,
    read_form,
    redirect,
    static_file,
    text,
)
from podwarden.store.digests import cluster_digests
from podwarden.wire.asgi import Receive, Scope, Send
from podwarden.wire.sigv4 import Credential

PREFIX = "/_podwarden/dashboard"
HEARTBEAT_S = 15.0
SETTLE_S = 0.02  # changes that come together go out as one event per name

# (access key id, secret access key, session token) -> the credential and when it expires, or
# None: ``api.app.PodwardenApp.sign_in``, the API's own credentials
SignIn = Callable[[str, str, str], tuple[Credential, float] | None]

_CLUSTER = re.compile(r"^/clusters/([a-z0-9]{1,32})(/summary|/grid|/timeline|/jobs)?$")
_NODE = re.compile(r"^/clusters/([a-z0-9]{1,32})/nodes/(i-[0-9a-f]{1,32})$")


def _version() -> str:
    try:
        return version("podwarden")
    except PackageNotFoundError:  # a source tree without installed metadata
        return "dev"


class Dashboard:
    def __init__(
        self,
        sources: Sources,
        sign_in: SignIn,
        *,
        auth: bool = True,
        anonymous: Principal | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> None:
        self.sources = sources
        self.sign_in = sign_in
        self.auth = auth
        self.anonymous = anonymous  # who the pages show without auth
        self.stopping = stopping  # the server is shutting down: end the event streams
        self.sessions = Sessions()
        self.live = LiveChanges(lambda: cluster_digests(sources.store))
        env = Environment(
            loader=PackageLoader("podwarden.dashboard", "templates"),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
            enable_async=False,
        )
        env.globals.update(prefix=PREFIX, asset_version=_version())
        self.pages = Pages(env, sources)

    def nodes_changed(self, cluster_id: str | None) -> None:
        """The node watch's callback (``providers.kubes.KubeProviders.nodes_changed``)."""
        self.live.nodes_changed(cluster_id)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request.of(scope, PREFIX)
        if not request.loopback:
            await text(f"{PREFIX} answers loopback clients only", 403).send(send)
            return
        if request.path.startswith("/static/"):
            found = static_file(request.path.removeprefix("/static/"))
            await (found or text("no such file", 404)).send(send, head=request.method == "HEAD")
            return
        if request.path in ("/login", "/logout"):
            response = await self._session_route(request, receive)
            await response.send(send)
            return
        if request.method not in ("GET", "HEAD"):
            await text("the dashboard is read-only", 405).send(send)
            return
        who = self._principal(request)
        if who is None:
            await self._unauthorized(request).send(send)
        elif request.path == "/events":
            await self._events(who, receive, send)
        else:
            response = await self._page(request, who)
            await response.send(send, head=request.method == "HEAD")

    # ------------------------------------------------------------------ sessions

    def _principal(self, request: Request) -> Principal | None:
        if not self.auth:
            return self.anonymous
        return self.sessions.read(cookie_value(request.headers.get("cookie", "")))

    def _unauthorized(self, request: Request) -> Response:
        if request.htmx or request.path == "/events":
            # a fragment or the event stream: htmx sends the whole page to the sign-in form
            return Response(
                401,
                b"sign in first",
                "text/plain; charset=utf-8",
                [("hx-redirect", PREFIX + "/login")],
            )
        return redirect(PREFIX + "/login")

    async def _session_route(self, request: Request, receive: Receive) -> Response:
        if request.path == "/login" and request.method in ("GET", "HEAD"):
            return self.pages.login("") if self.auth else redirect(PREFIX + "/")
        if request.method != "POST":
            return text("expected GET or POST", 405)
        if not request.same_origin():
            return text("sign-in and sign-out forms are accepted from the dashboard only", 403)
        form = await read_form(receive)
        if request.path == "/logout":
            self.sessions.close(cookie_value(request.headers.get("cookie", "")))
            return redirect(PREFIX + "/login", [("set-cookie", clear_cookie(PREFIX))])
        return self._login(form)

    def _login(self, form: dict[str, str] | None) -> Response:
        if form is None:
            return text("the form did not arrive whole", 400)
        key, secret = form.get("access_key_id", "").strip(), form.get("secret_access_key", "")
        found = self.sign_in(key, secret, form.get("session_token", "").strip()) if key else None
        if found is None:
            message = "The access key id, secret access key or session token is not valid."
            return self.pages.login(message, 401)
        credential, expires = found
        principal = Principal(
            credential.access_key_id, credential.account_id, credential.principal_arn, expires
        )
        value = self.sessions.open(principal)
        max_age = min(expires, time.time() + self.sessions.lifetime) - time.time()
        return redirect(PREFIX + "/", [("set-cookie", set_cookie(value, PREFIX, max_age))])

    # ------------------------------------------------------------------ pages

    async def _page(self, request: Request, who: Principal) -> Response:
        path = request.path
        if path == "":
            return redirect(PREFIX + "/")
        if path == "/":
            return self.pages.overview(who, signed_in=self.auth)
        if path == "/clusters":
            return self.pages.clusters_fragment(who)
        node = _NODE.match(path)
        if node:
            return await self.pages.node(who, node.group(1), node.group(2))
        found = _CLUSTER.match(path)
        if found is None:
            return text("no such page", 404)
        return await self.pages.cluster(who, found.group(1), found.group(2) or "", self.auth)

    async def _events(self, who: Principal, receive: Receive, send: Send) -> None:
        """The page's Server-Sent Events until the page goes, the session ends or the server
        stops; a comment every ``HEARTBEAT_S`` keeps proxies and the browser from timing out."""
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"x-accel-buffering", b"no"),
                ],
            }
        )
        gone = asyncio.create_task(_disconnected(receive))
        try:
            async with self.live.listen(who.account) as listener:
                await _chunk(send, ": listening\n\n")
                quiet = 0.0
                while not gone.done() and not self.stopping() and who.expires > time.time():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(listener.ready.wait(), 0.25)
                    if not listener.ready.is_set():
                        quiet += 0.25
                        if quiet >= HEARTBEAT_S:
                            quiet = 0.0
                            await _chunk(send, ": still here\n\n")
                        continue
                    await asyncio.sleep(SETTLE_S)
                    quiet = 0.0
                    names = listener.take()
                    await _chunk(send, "".join(f"event: {n}\ndata: {n}\n\n" for n in names))
        finally:
            gone.cancel()
            with contextlib.suppress(Exception):
                await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _disconnected(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _chunk(send: Send, data: str) -> None:
    await send({"type": "http.response.body", "body": data.encode(), "more_body": True})


__all__ = ["CLUSTERS", "PREFIX", "Dashboard", "nodes_event", "records_event"]
