"""xDS stream state machines (spec 06 §2, §5, §6): what to send after each request and after each new snapshot.

No gRPC and no I/O here: a :class:`Stream` takes requests and snapshots and returns serialized responses, and
reports ACKs, NACKs and sends to a :class:`Hooks` object (metrics, logs, ``/status``). One stream serves one
node; each type URL has its own state.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from kumahc.xds.snapshot import CLUSTER_TYPE, ENDPOINT_TYPE, ProxyResources, Snapshot, empty_resources
from kumahc.xds.tls import ClientIdentity, NotAllowed, Pair, printable

if TYPE_CHECKING:
    from kumahc.xds.connected import Connected

SOTW = "sotw"
DELTA = "delta"
CDS = "cds"
ADS = "ads"
# Each type URL a stream asks for keeps a watch (its state, a /status row) for the stream's life. Envoy's ADS uses
# about a dozen (clusters, endpoints, listeners, routes, secrets, runtime, ...): a client naming more is not an
# Envoy, and is ended with RESOURCE_EXHAUSTED instead of growing the server's memory (docs/limits.md).
MAX_TYPE_URLS = 32
# The operator page (kumahc.ui) shows each stream's last events; older ones are dropped, so a stream's memory stays
# bounded however long it lives; a NACK's message is kept up to HISTORY_MESSAGE characters there (a client may send
# megabytes of error_detail, and 20 of them per stream would add up).
HISTORY = 20
HISTORY_MESSAGE = 4096


class StreamError(Exception):
    """Ends the stream with a gRPC status (``INVALID_ARGUMENT``)."""

    def __init__(self, message: str, code: grpc.StatusCode = grpc.StatusCode.INVALID_ARGUMENT):
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(slots=True)
class WatchStatus:
    """One row of ``/status`` (06 §9): a (stream, type URL) pair."""

    node: str
    api: str
    service: str
    type_url: str
    proxy: str | None = None
    sent_version: str | None = None
    acked_version: str | None = None
    nacked_version: str | None = None
    nack_message: str | None = None

    def as_json(self) -> dict:
        return {"node": self.node, "proxy": self.proxy, "api": self.api, "service": self.service,
                "type_url": self.type_url, "sent_version": self.sent_version, "acked_version": self.acked_version,
                "nacked_version": self.nacked_version, "nack_message": self.nack_message}


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of a stream's history: ``kind`` ∈ sent/ack/nack, ``at`` in UTC, ``message``: Envoy's
    ``error_detail`` of a NACK (empty otherwise)."""

    at: datetime
    kind: str
    type_url: str
    version: str
    message: str = ""


class Hooks(Protocol):
    def sent(self, api: str) -> None: ...
    def acked(self, api: str, node: str, type_url: str, version: str, nonce: str, seconds: float) -> None: ...
    def nacked(self, api: str, node: str, type_url: str, version: str, nonce: str, message: str) -> None: ...
    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None: ...


@dataclass(slots=True)
class _Watch:
    status: WatchStatus
    last_nonce: str = ""
    waiting: bool = False
    last_sent_version: str | None = None  # SotW
    # name → version the client holds (Delta), or that the last response carried (SotW; empty before it)
    known: dict[str, str] = field(default_factory=dict)
    first_sent: bool = False  # Delta
    sent_at: float = 0.0  # monotonic time of the last response, for the ACK latency
    names: tuple[str, ...] = ()  # SotW: the resource names last asked for
    resend: set[str] = field(default_factory=set)  # names to send again even though their version is unchanged


class Stream:
    """One gRPC stream. ``api`` ∈ sotw/delta, ``service`` ∈ cds/ads."""

    def __init__(self, api: str, service: str, snapshot: Snapshot | None, hooks: Hooks,
                 allowed: ClientIdentity | None = None, connected: Connected | None = None):
        """``snapshot`` None: nothing is loaded yet; requests are taken and answered by the first
        :meth:`on_snapshot`. ``allowed``: what the peer's client certificate authorizes (None = no mTLS: any
        node id, resolved by 06 §3). ``connected`` (``serve --render connected``): the stream attaches to its
        proxy there, and waits, as before the first snapshot, while its proxy is not materialized."""
        self.connected = connected
        self.api = api
        self.service = service
        self.snapshot = snapshot
        self.hooks = hooks
        self.node: str | None = None
        self.proxy: tuple[str, str] | None = None
        self.watches: dict[str, _Watch] = {}
        self._nonce = 0
        self._empty: dict[str, ProxyResources] = {}
        self._unknown: bool | None = None  # None until the node is first resolved
        self.allowed = allowed
        self.identity: Pair | None = None  # mTLS: the certificate's pair the node id was authorized as
        # For the operator page only (not /status): when the stream opened, who opened it, the Envoy build its
        # first request named, and its last HISTORY events.
        self.opened_at = datetime.now(UTC)
        self.peer = ""
        self.user_agent = ""
        self.history: deque[Event] = deque(maxlen=HISTORY)

    # --- inputs --------------------------------------------------------------------------------------------------

    def on_request(self, req: discovery_pb2.DiscoveryRequest | discovery_pb2.DeltaDiscoveryRequest) -> list[bytes]:
        """Handle one request; returns the responses to send, in order (none, one, or a Cluster response followed
        by the ClusterLoadAssignments it needs, see :meth:`_send`). Raises :class:`StreamError`."""
        if self.node is None:
            if not req.node.id:
                raise StreamError("node.id is required")
            if self.allowed is not None:
                try:
                    self.identity = self.allowed.authorize(req.node.id)
                except NotAllowed as exc:
                    raise StreamError(str(exc), grpc.StatusCode.PERMISSION_DENIED) from None
            self.node = req.node.id
            self.user_agent = _user_agent(req.node)
            if self.snapshot is not None:
                self._resolve()
        type_url = self._type_url(req.type_url)
        watch = self.watches.get(type_url)
        first = watch is None
        if watch is None:
            if len(self.watches) >= MAX_TYPE_URLS:
                raise StreamError(f"more than {MAX_TYPE_URLS} distinct type URLs on one stream",
                                  grpc.StatusCode.RESOURCE_EXHAUSTED)
            watch = self.watches[type_url] = _Watch(WatchStatus(self.node, self.api, self.service, type_url,
                                                                self._proxy_text()))
            if self.api == SOTW:
                watch.last_sent_version = req.version_info
            else:
                watch.known = dict(req.initial_resource_versions)
        elif req.response_nonce != watch.last_nonce and not (self.api == DELTA and not req.response_nonce):
            return []  # stale: answers a response that was superseded (a Delta request without nonce is spontaneous)
        self._subscriptions(req, watch, first)
        if not first or req.response_nonce:
            if req.HasField("error_detail"):
                rejected = watch.status.sent_version or ""
                watch.status.nacked_version = rejected
                watch.status.nack_message = req.error_detail.message
                self.hooks.nacked(self.api, self.node, type_url, rejected, req.response_nonce, req.error_detail.message)
                self.history.append(Event(datetime.now(UTC), "nack", type_url, rejected,
                                          req.error_detail.message[:HISTORY_MESSAGE]))
            elif req.response_nonce and req.response_nonce == watch.last_nonce:
                watch.status.acked_version = watch.status.sent_version
                self.hooks.acked(self.api, self.node, type_url, watch.status.sent_version or "", req.response_nonce,
                                 time.monotonic() - watch.sent_at)
                self.history.append(Event(datetime.now(UTC), "ack", type_url, watch.status.sent_version or ""))
        watch.waiting = True
        return self._send([type_url])

    def on_snapshot(self, snapshot: Snapshot) -> list[bytes]:
        """A new snapshot: re-resolve the node, push to every waiting type whose content changed (Cluster first,
        so that the assignments a cluster change needs follow it)."""
        self.snapshot = snapshot
        if self.node is not None:
            self._resolve()
        for watch in self.watches.values():
            watch.status.proxy = self._proxy_text()
        return self._send(sorted(self.watches, key=lambda t: t != CLUSTER_TYPE))

    @property
    def pending(self) -> bool:
        """The stream's proxy is known but not materialized yet (``--render connected``): its requests wait."""
        return self.snapshot is not None and not self.snapshot.materialized(self.proxy)

    def close(self) -> None:
        """The stream ended: it no longer counts as an unknown node, nor as a stream of its proxy."""
        if self._unknown:
            self.hooks.unknown_node(self.node, False)
        if self.connected is not None and self.proxy is not None:
            self.connected.detach(self.proxy)
            self.proxy = None

    # --- internals -----------------------------------------------------------------------------------------------

    def _type_url(self, type_url: str) -> str:
        if self.service == CDS:
            if type_url in ("", CLUSTER_TYPE):
                return CLUSTER_TYPE
            raise StreamError(f'unsupported type_url "{type_url}"')
        if not type_url:
            raise StreamError("type_url is required")
        return type_url

    def _resolve(self) -> None:
        """Resolve the node on every snapshot; report when it becomes unknown or known again. Under mTLS the proxy
        is the certificate's pair or nothing (no re-split of the id, no mesh ``default``); otherwise 06 §3, where
        an id naming several proxies is unknown."""
        reason = ""
        before = self.proxy
        if self.identity is not None:
            self.proxy = self.identity if self.identity in self.snapshot.names else None
            if self.proxy is None:
                mesh, name = self.identity
                reason = f'the client certificate names proxy "{printable(name)}" of mesh "{printable(mesh)}", ' \
                         "which does not exist"
        else:
            found = self.snapshot.candidates(self.node)
            self.proxy = found[0] if len(found) == 1 else None
            if len(found) > 1:
                reason = "it names more than one proxy (" + ", ".join(printable(f"{m}/{n}") for m, n in found) + ")"
        if self.connected is not None and self.proxy != before:
            if before is not None:
                self.connected.detach(before)
            if self.proxy is not None:
                self.connected.attach(self.proxy)
        unknown = self.proxy is None
        if unknown != bool(self._unknown) and (self._unknown is not None or unknown):
            self.hooks.unknown_node(self.node, unknown, reason)
        self._unknown = unknown

    def _proxy_text(self) -> str | None:
        return f"{self.proxy[0]}/{self.proxy[1]}" if self.proxy else None

    def _subscriptions(self, req: discovery_pb2.DiscoveryRequest | discovery_pb2.DeltaDiscoveryRequest,
                       watch: _Watch, first: bool) -> None:
        """Named subscriptions, of every type (Envoy asks for each EDS cluster's assignment by name; a strict
        client may name clusters too): every resource of the proxy is sent whatever the names, but a change of the
        names must be answered even when the version did not change (xDS protocol: a client changing its
        subscriptions expects the resources), or a cluster added later would wait for its assignment (warming)
        until the next change. SotW: new names → resend. Delta: a newly subscribed name is sent again, also when
        the request is spontaneous (no ``response_nonce``)."""
        if self.api == SOTW:
            names = tuple(sorted(req.resource_names))
            if not first and names != watch.names:
                watch.last_sent_version = None
            watch.names = names
        else:
            for name in req.resource_names_subscribe:
                if name != "*" and name not in req.initial_resource_versions:
                    watch.known.pop(name, None)
                    watch.first_sent = False  # answer even if the name has no assignment (yet)

    def _resources(self, type_url: str) -> ProxyResources:
        if type_url == CLUSTER_TYPE:
            return self.snapshot.resources(self.proxy)
        if type_url == ENDPOINT_TYPE:
            found = self.snapshot.load_assignments(self.proxy)
            if found is not None:
                return found
        res = self._empty.get(type_url)
        if res is None:
            res = self._empty[type_url] = empty_resources(type_url)
        return res

    def _next_nonce(self) -> str:
        self._nonce += 1
        return str(self._nonce)

    def _send(self, type_urls: list[str]) -> list[bytes]:
        """Send to each waiting watch of ``type_urls`` whatever changed. A Cluster response that modifies EDS
        clusters is followed at once by their ClusterLoadAssignments: Envoy keeps a modified EDS cluster warming
        until an assignment for it arrives (xDS protocol, "eventual consistency"), and without a resend it would
        wait for its EDS ``initial_fetch_timeout`` (15 s by default) when the endpoints did not change."""
        out = []
        for type_url in type_urls:
            watch = self.watches[type_url]
            before = watch.known
            data = self._maybe_send(type_url, watch)
            if data is None:
                continue
            out.append(data)
            if type_url == CLUSTER_TYPE:
                out += self._resend_assignments(before, watch.known)
        return out

    def _resend_assignments(self, before: dict[str, str], after: dict[str, str]) -> list[bytes]:
        """After a Cluster response that took the client from cluster versions ``before`` to ``after``: the
        assignments of the modified clusters are sent again (with EDS, an assignment is named after its cluster),
        now if the EDS watch is waiting, else after its pending ACK. SotW sends the whole set again (a resend
        with a new nonce at the same version); Delta sends the modified names only (an added cluster's name is
        subscribed by the client, which :meth:`_subscriptions` answers). SotW before its first response knows no
        versions: every cluster counts as modified (a reconnecting Envoy may hold older ones)."""
        watch = self.watches.get(ENDPOINT_TYPE)
        if watch is None or before is after or self.snapshot.load_assignments(self.proxy) is None:
            return []
        if self.api == SOTW:
            modified = {n for n, v in after.items() if before.get(n) != v}
        else:
            modified = {n for n, v in after.items() if n in before and before[n] != v}
        if not modified:
            return []
        watch.resend |= modified
        data = self._maybe_send(ENDPOINT_TYPE, watch)
        return [data] if data is not None else []

    def _maybe_send(self, type_url: str, watch: _Watch) -> bytes | None:
        if not watch.waiting or self.snapshot is None:
            return None
        if not self.snapshot.materialized(self.proxy):
            # Its clusters are being built: answered by the snapshot that holds them (as the first snapshot).
            if self.connected is not None:
                self.connected.want(self.proxy)
            return None
        res = self._resources(type_url)
        if self.api == SOTW:
            if res.version == watch.last_sent_version and not watch.resend:
                return None
            nonce = self._next_nonce()
            data = res.sotw(nonce)
            watch.last_sent_version = res.version
            watch.known = res.versions  # read only in SotW: shared with the snapshot, not copied per stream
        else:
            changed = [n for n in res.names if watch.known.get(n) != res.versions[n] or n in watch.resend]
            removed = sorted(n for n in watch.known if n not in res.versions)
            if not changed and not removed and watch.first_sent:
                return None
            nonce = self._next_nonce()
            data = res.delta(changed, removed, nonce, type_url)
            watch.known = dict(res.versions)
            watch.first_sent = True
        watch.resend = set()
        watch.last_nonce = nonce
        watch.sent_at = time.monotonic()
        watch.waiting = False
        watch.status.sent_version = res.version
        self.hooks.sent(self.api)
        self.history.append(Event(datetime.now(UTC), "sent", type_url, res.version))
        return data


def _user_agent(node: object) -> str:
    """``envoy 1.40.0`` from the node's ``user_agent_name`` and build version (or its free-form version); empty
    when the client names none."""
    name = getattr(node, "user_agent_name", "")
    if node.HasField("user_agent_build_version"):  # type: ignore[attr-defined]
        v = node.user_agent_build_version.version  # type: ignore[attr-defined]
        version = f"{v.major_number}.{v.minor_number}.{v.patch}"
    else:
        version = getattr(node, "user_agent_version", "")
    return " ".join(p for p in (name, version) if p)
