"""Prometheus metrics of ``serve`` (spec 06 §9 and the operator metrics), on a registry of their own (several
servers may share a process in tests), and the log formats: text ``<UTC RFC 3339 time> <LEVEL> <message>`` or one
JSON object per line (``--log-format json``)."""

from __future__ import annotations

import json
import logging
import platform
import re
import sys
import time
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from kumahc import __version__
from kumahc.xds.streams import DELTA, SOTW
from kumahc.xds.tls import printable

log = logging.getLogger("kumahc.serve")
disable_created_metrics()  # "_created" series are noise for a control plane's counters
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


# A value a client chose (node id, Envoy's error_detail, a Host header, ...) is logged at most this many UTF-8
# bytes long, cut marker included: a 15 MiB node id must not become three 15 MiB log lines.
LOG_VALUE_BYTES = 1024
# C0 and C1 controls, DEL and the Unicode line/paragraph separators: any of them could end a text line early or
# rewrite the terminal, so a forged "INFO ..." line would look like ours.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape_char(match: re.Match[str]) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\r``, ``\\t``, ``\\xNN``,
    ``\\uNNNN``), so it stays on one line; other characters (backslashes included) unchanged."""
    return _CONTROL.sub(_escape_char, text) if _CONTROL.search(text) else text


def safe_value(text: str) -> str:
    """A client-supplied string as logged: control characters escaped (:func:`escape_controls`), then cut to at
    most :data:`LOG_VALUE_BYTES` UTF-8 bytes ending in ``…[cut: N characters]`` (N: the original length)."""
    out = escape_controls(text)
    if len(out) * 4 <= LOG_VALUE_BYTES or len(out.encode()) <= LOG_VALUE_BYTES:
        return out
    marker = f"…[cut: {len(text):,} characters]"
    room = LOG_VALUE_BYTES - len(marker.encode())
    head = out[:room].encode()[:room].decode(errors="ignore")  # no half character at the cut
    return head + marker


def _stamp(created: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(created % 1 * 1000):03d}Z"


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        # One record, one line: whatever a message holds, a newline in it cannot start a line of its own.
        return f"{stamp} {record.levelname} {escape_controls(record.getMessage())}"


class _JsonFormatter(logging.Formatter):
    """``{"time", "level", "msg", ...fields}``: ``msg`` is the text line's message; ``fields`` given with
    ``extra={"fields": {...}}`` (node, api, version, ...) are added as keys so they can be queried."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {"time": _stamp(record.created), "level": record.levelname, "msg": record.getMessage()}
        out.update(getattr(record, "fields", None) or {})
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"))


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    """Send ``kumahc.serve`` logs to stderr in ``fmt`` (text|json) at ``level`` (debug|info|warning|error)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_JsonFormatter() if fmt == "json" else _TextFormatter())
    log.handlers[:] = [handler]
    log.setLevel(level.upper())
    log.propagate = False


def event(level: int, message: str, **fields: Any) -> None:
    """Log ``message`` (already holding the fields as text) with ``fields`` for the JSON format. Every string
    field is taken as client-supplied: it is logged as :func:`safe_value` gives it, in the fields and wherever
    the message holds it, in both formats."""
    if not log.isEnabledFor(level):
        return
    for key, value in fields.items():
        if isinstance(value, str):
            safe = safe_value(value)
            if safe != value:
                fields[key] = safe
                message = message.replace(value, safe)
    log.log(level, message, extra={"fields": fields})


class Metrics:
    """The metrics of 06 §9 (exact names) and the operator metrics; also the :class:`kumahc.xds.streams.Hooks` of
    every stream (ACK/NACK logging lives here too)."""

    def __init__(self, store: bool = False) -> None:
        """``store``: serving a store (``--store``): adds ``kumahc_store_connected`` and
        ``kumahc_store_rendered_parts``."""
        self.registry = CollectorRegistry()
        r = self.registry
        self.proxies = Gauge("kumahc_snapshot_proxies", "Proxies in the current snapshot", registry=r)
        self.materialized = Gauge("kumahc_snapshot_materialized_proxies",
                                  "Proxies whose clusters the current snapshot holds (--render connected: the "
                                  "connected ones)", registry=r)
        self.clusters = Gauge("kumahc_snapshot_clusters", "Clusters over all proxies", registry=r)
        self.reloads = Counter("kumahc_reloads", "Reload attempts (not the initial load)", ["result"], registry=r)
        self.streams = Gauge("kumahc_xds_streams", "Open xDS streams", ["api"], registry=r)
        self.responses = Counter("kumahc_xds_responses", "xDS responses sent", ["api"], registry=r)
        self.acks = Counter("kumahc_xds_acks", "ACKs received", ["api"], registry=r)
        self.nacks = Counter("kumahc_xds_nacks", "NACKs received", ["api"], registry=r)
        self.unknown = Gauge("kumahc_unknown_nodes", "Open streams whose node resolves to no proxy", registry=r)
        # Beyond spec 06 §9: how long a snapshot takes to build, and how long Envoy takes to ACK what was sent.
        # No series is labelled with a node id (or anything else a client chooses): any client could grow
        # /metrics, which needs no token, without bound and read who else is connected. Which node NACKed what is
        # on /status (token) and in the NACK log line.
        self.generation = Gauge("kumahc_snapshot_generation_seconds",
                                "Seconds the last successful load+render+snapshot took", registry=r)
        self.ack_latency = Histogram("kumahc_xds_ack_latency_seconds", "Seconds from a response to its ACK",
                                     ["api"], registry=r,
                                     buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        # Operator metrics: what runs, whether it serves what the inputs say, who was turned away.
        self.build_info = Gauge("kumahc_build_info", "Always 1; the labels say what runs",
                                ["version", "python_version"], registry=r)
        self.build_info.labels(__version__, platform.python_version()).set(1)
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes, open fds, ...
        PlatformCollector(registry=r)  # python_info
        self.last_success = Gauge("kumahc_snapshot_last_success_timestamp_seconds",
                                  "Unix time the current snapshot was built (initial load or last good reload); "
                                  "0 before the first", registry=r)
        self.stale = Gauge("kumahc_snapshot_stale",
                           "1 while the newest inputs are invalid and an older snapshot is served, else 0",
                           registry=r)
        self.ready = Gauge("kumahc_ready", "1 once the first snapshot is served (/ready answers 200)", registry=r)
        self.denied = Counter("kumahc_xds_streams_denied",
                              "xDS streams ended with PERMISSION_DENIED: node.id not allowed by the client "
                              "certificate", registry=r)
        self.admin_denied = Counter("kumahc_admin_requests_denied", "Admin requests refused",
                                    ["reason"], registry=r)
        self.admin_refused = Counter("kumahc_admin_connections_refused",
                                     "Admin connections turned away with 503: the connection cap was reached",
                                     registry=r)
        self.tls_reloads = Counter("kumahc_xds_tls_reloads", "Server TLS file reloads", ["result"], registry=r)
        self.token_reloads = Counter("kumahc_admin_token_reloads", "Admin token file reloads", ["result"],
                                     registry=r)
        self.store_connected = Gauge("kumahc_store_connected",
                                     "1 while the store's LISTEN connection is up, else 0 (the last good snapshot "
                                     "is served meanwhile)", registry=r if store else None)
        self.store_parts = Gauge("kumahc_store_rendered_parts",
                                 "1 while the snapshot is the one the store's writer rendered, 0 while this replica "
                                 "renders the stored resources itself", registry=r if store else None)
        for api in (SOTW, DELTA):  # every series exists from the start, at 0
            self.streams.labels(api)
            self.responses.labels(api)
            self.acks.labels(api)
            self.nacks.labels(api)
        for result in ("success", "failure"):
            self.reloads.labels(result)
            self.tls_reloads.labels(result)
            self.token_reloads.labels(result)
        for reason in ("host", "token"):
            self.admin_denied.labels(reason)

    def snapshot_served(self, proxies: int, clusters: int, generation_seconds: float) -> None:
        """A snapshot built from the newest inputs is now served."""
        self.proxies.set(proxies)
        self.clusters.set(clusters)
        self.generation.set(generation_seconds)
        self.last_success.set(time.time())
        self.stale.set(0)
        self.ready.set(1)

    # Hooks
    def sent(self, api: str) -> None:
        self.responses.labels(api).inc()

    def acked(self, api: str, node: str, type_url: str, version: str, nonce: str, seconds: float) -> None:
        self.acks.labels(api).inc()
        self.ack_latency.labels(api).observe(seconds)
        if log.isEnabledFor(logging.DEBUG):  # one per ACK: do not even format the line otherwise
            event(logging.DEBUG, f"ACK node={node} type={type_url} version={version} nonce={nonce}", event="ack",
                  node=node, api=api, type_url=type_url, version=version, nonce=nonce)

    def nacked(self, api: str, node: str, type_url: str, version: str, nonce: str, message: str) -> None:
        self.nacks.labels(api).inc()
        event(logging.WARNING, f"NACK node={node} type={type_url} version={version} nonce={nonce}: {message}",
              event="nack", node=node, api=api, type_url=type_url, version=version, nonce=nonce,
              error_detail=message)

    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None:
        if unknown:
            self.unknown.inc()
            why = f"{reason}; " if reason else ""
            event(logging.WARNING, f'unknown node "{printable(node)}": {why}serving an empty cluster set',
                  event="unknown_node", node=node, **({"reason": reason} if reason else {}))
        else:
            self.unknown.dec()
