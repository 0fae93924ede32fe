"""The operator pages' HTTP side (issue 22): an aiohttp sub-application that ``serve`` mounts on the admin port
under ``/ui/``. Server-rendered HTML (Jinja2, autoescaped: node ids, NACK messages and names from clients and
inputs are text, never markup), usable without JavaScript; ``static/ui.js`` re-reads the open page every second
and swaps its content in place, so an ACK, a NACK or a reload shows without a reload of the page.

Security is the admin port's: its Host check runs first (the parent application's middleware). With
``--admin-token-file`` the pages need a session cookie, set by the login form at ``/ui/login`` (HttpOnly,
SameSite=Strict, path /ui/): its value is an HMAC of the current token under a key made at start, so the token is
never in a URL or a cookie, and a new token ends every session. ``Authorization: Bearer <token>`` works too. Every
response carries a Content-Security-Policy that allows first-party scripts and styles only (no inline script).
"""

from __future__ import annotations

import asyncio
import hmac
import platform
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib import resources
from typing import Generic, TypeVar
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from kumahc import __version__, gcpause
from kumahc.ui import details, model
from kumahc.views.policyview import NoPolicy
from kumahc.xds.admin import AdminGuard
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.reloads import ServeLog
from kumahc.xds.server import XdsServer
from kumahc.xds.snapshot import CLUSTER_TYPE, ENDPOINT_TYPE, Snapshot

COOKIE = "kumahc_ui"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}
PER_PAGE = 50
MAX_PER_PAGE = 500
STATIC = {"ui.js": "text/javascript", "ui.css": "text/css"}
TYPE_NAMES = {CLUSTER_TYPE: "Cluster", ENDPOINT_TYPE: "ClusterLoadAssignment"}
OPEN = ("/ui/login", "/ui/static/")  # reachable without a session
T = TypeVar("T")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("kumahc.ui", "templates"),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["ago"] = _ago
    env.filters["type_name"] = lambda t: TYPE_NAMES.get(t, t.rsplit(".", 1)[-1])
    env.filters["q"] = lambda s: quote(s, safe="")
    return env


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "-"


def _ago(at: datetime | None) -> str:
    if at is None:
        return "-"
    s = max(0, int((datetime.now(UTC) - at).total_seconds()))
    return f"{s} s ago" if s < 120 else f"{s // 60} min ago" if s < 7200 else f"{s // 3600} h ago"


def make_ui(cache: SnapshotCache, xds: XdsServer, guard: AdminGuard, served: ServeLog, store: str | None = None,
            revision: Callable[[], int | None] | None = None) -> web.Application:
    """The ``/ui/`` sub-application (mount with ``app.add_subapp("/ui/", ...)``). ``store``: the store as
    ``/status`` names it (``--store``), ``revision``: the store revision served now."""
    env = _environment()
    key = secrets.token_bytes(32)  # signs sessions; a restart ends them
    # Made once per snapshot, not on every poll (an open page asks every second): the overview's version hashes
    # every proxy, the policies' rows walk every proxy (inspect --policy).
    snapshot_version: PerSnapshot[str] = PerSnapshot()
    policy_rows: PerSnapshot[list[details.PolicyRow]] = PerSnapshot()

    def session_value() -> str | None:
        if guard.token is None:
            return None
        return hmac.new(key, guard.token.current().encode(), "sha256").hexdigest()

    def signed_in(request: web.Request) -> bool:
        if guard.token is None or guard.token_ok(request.headers.get("Authorization")):
            return True
        cookie = request.cookies.get(COOKIE, "")
        expected = session_value()
        return expected is not None and hmac.compare_digest(cookie.encode(), expected.encode())

    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        if not request.path.startswith(OPEN) and not signed_in(request):
            response: web.StreamResponse = web.HTTPSeeOther("/ui/login")
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = exc
        response.headers.update(HEADERS)
        return response

    def page(name: str, status: int = 200, **values: object) -> web.Response:
        snap = cache.snapshot
        body = env.get_template(name).render(version=__version__, signed=guard.token is not None,
                                             loaded_at=snap.loaded_at if snap else None, **values)
        return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")

    async def overview(_: web.Request) -> web.Response:
        snap = cache.snapshot
        with gcpause.paused():  # see proxies()
            rows = model.node_rows(xds.streams, snap)
        return page("overview.html", title="Overview", nav="overview", counts=model.counts(rows),
                    connected=sum(1 for r in rows if r.state != model.NEVER), snapshot=snap,
                    snapshot_version=snapshot_version.get(snap, model.snapshot_version) if snap else None,
                    meshes=sorted({m for m, _ in snap.names}) if snap else [],
                    clusters=snap.cluster_count if snap else 0, reload=served.last, store=store,
                    store_connected=served.store_connected, store_message=served.store_message,
                    revision=revision() if revision else None, python=platform.python_version(),
                    from_parts=snap.from_parts if snap else False)

    async def proxies(request: web.Request) -> web.Response:
        q = request.query
        per = _int(q.get("per"), PER_PAGE, 1, MAX_PER_PAGE)
        state = q.get("state", "")
        sort = q.get("sort", "state") if q.get("sort") in model.SORTS else "state"
        desc = q.get("desc") == "1"
        # One row per proxy is made and dropped on every request (every second while the page is open): with the
        # collector on, those short-lived objects triggered collections that walked the snapshot's millions of
        # long-lived objects (seconds at 10,000 proxies). They hold no cycles: reference counting frees them.
        with gcpause.paused():
            rows = model.node_rows(xds.streams, cache.snapshot)
            sel = model.select(rows, q.get("q", ""), state if state in model.STATES else "", sort, desc,
                               _int(q.get("page"), 1, 1, 10**9), per)
            counts = model.counts(rows)
            del rows

        def link(**change: object) -> str:
            params = {"q": q.get("q", ""), "state": state, "sort": sort, "desc": "1" if desc else "", "per": per,
                      **change}
            return "/ui/proxies?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

        return page("proxies.html", title="Proxies", nav="proxies", sel=sel, q=q.get("q", ""), state=state,
                    sort=sort, desc=desc, states=model.STATES, link=link, counts=counts)

    async def proxy(request: web.Request) -> web.Response:
        node = request.match_info["node"]
        snap = cache.snapshot
        streams = model.streams_of(xds.streams, node)
        key = next((s.proxy for s in streams if s.proxy is not None), None)
        if key is None and not streams and snap is not None:
            key = snap.resolve(node)
            # The proxy's id as links write it (MESH.NAME): show the streams that serve it under their own node id.
            streams = [s for s in list(xds.streams) if key is not None and s.proxy == key]
        row = next((model.fill(r) for r in model.node_rows(streams, None)), None)
        if row is None and key is None:
            return page("missing.html", status=404, title="Not found", nav="proxies",
                        what=f'no stream uses node id "{node}" and it names no proxy')
        clusters = await asyncio.to_thread(details.clusters, snap, key) if snap is not None and key else []
        return page("proxy.html", title=node, nav="proxies", node=node, row=row,
                    proxy=f"{key[0]}/{key[1]}" if key else "", clusters=clusters, header=details.HEADER,
                    streams=[(model.PROTOCOL[(s.api, s.service)], s, sorted(s.watches.values(),
                              key=lambda w: w.status.type_url)) for s in streams],
                    history=model.history(streams))

    async def policies(_: web.Request) -> web.Response:
        snap = cache.snapshot
        result = details.result_of(snap)
        rows = None
        if snap is not None and result is not None:
            rows = policy_rows.cached(snap)
            if rows is None:
                rows = policy_rows.put(snap, await asyncio.to_thread(details.policies, result))
        return page("policies.html", title="Policies", nav="policies", rows=rows)

    async def policy(request: web.Request) -> web.Response:
        selector = f"{request.match_info['kind']}/{request.match_info['name']}"
        result = details.result_of(cache.snapshot)
        if result is None:
            return page("missing.html", status=404, title="Not found", nav="policies",
                        what="no policy details: this snapshot came from the store's rendered parts")
        try:
            view = await asyncio.to_thread(details.policy, result, selector)
        except NoPolicy as exc:
            return page("missing.html", status=404, title="Not found", nav="policies", what=str(exc))
        row = next((r for r in details.policies(result, reach=False) if r.selector == selector), None)
        return page("policy.html", title=selector, nav="policies", view=view, row=row)

    async def login_form(_: web.Request) -> web.Response:
        return page("login.html", title="Sign in", nav="", failed=False)

    async def login(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        given = str(form.get("token", "")).strip()
        if guard.token is None:
            raise web.HTTPSeeOther("/ui/")
        if not hmac.compare_digest(given.encode(), guard.token.current().encode()):
            return page("login.html", status=401, title="Sign in", nav="", failed=True)
        response = web.HTTPSeeOther("/ui/")
        response.set_cookie(COOKIE, session_value() or "", path="/ui/", httponly=True, samesite="Strict")
        return response

    async def static(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC:
            raise web.HTTPNotFound()
        data = resources.files("kumahc.ui").joinpath("static", name).read_bytes()
        return web.Response(body=data, content_type=STATIC[name])

    app = web.Application(middlewares=[middleware])
    app.router.add_get("/", overview)
    app.router.add_get("/proxies", proxies)
    app.router.add_get("/proxies/{node:.+}", proxy)
    app.router.add_get("/policies", policies)
    app.router.add_get("/policies/{kind}/{name:.+}", policy)
    app.router.add_get("/login", login_form)
    app.router.add_post("/login", login)
    app.router.add_get("/static/{name}", static)
    return app


class PerSnapshot(Generic[T]):
    """One value made from the current snapshot and kept until the snapshot changes. Keyed by the snapshot's
    identity and load time rather than holding it: a reload must be able to free the old snapshot."""

    def __init__(self) -> None:
        self._key: tuple[int, datetime] | None = None
        self._value: T | None = None

    def cached(self, snap: Snapshot) -> T | None:
        return self._value if self._key == (id(snap), snap.loaded_at) else None

    def put(self, snap: Snapshot, value: T) -> T:
        self._key, self._value = (id(snap), snap.loaded_at), value
        return value

    def get(self, snap: Snapshot, make: Callable[[Snapshot], T]) -> T:
        value = self.cached(snap)
        return value if value is not None else self.put(snap, make(snap))


def _int(text: str | None, default: int, low: int, high: int) -> int:
    try:
        return min(max(int(text or default), low), high)
    except ValueError:
        return default
