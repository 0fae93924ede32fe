"""``kumahc render --format table``: one line per (proxy, cluster), like ``istioctl proxy-config cluster``.

Every cell is read from the rendered cluster's JSON (the same document ``render`` prints), the POLICIES cell from
:mod:`kumahc.views.contributors`, so the table cannot disagree with the JSON.
"""

from __future__ import annotations

from typing import Any

from kumahc.pipeline import Result
from kumahc.render import ClusterJson, matches_proxy, no_proxy_match
from kumahc.views.contributors import contributors

HEADER = ("PROXY", "CLUSTER", "CHECKER", "INTERVAL/TIMEOUT", "THRESHOLDS", "PANIC", "OUTLIER", "POLICIES")
NONE = "-"


def rows(result: Result, proxy: str | None = None) -> list[tuple[str, ...]]:
    """One row per cluster of every proxy (or those matching ``proxy``, as ``render --proxy``), in render order.
    Cells (``-`` when the cluster has none):

    * CHECKER: ``http PATH``, ``grpc`` (``grpc SERVICE`` with a service name), ``tcp``;
    * INTERVAL/TIMEOUT: the health check's ``interval/timeout`` (``10s/2s``);
    * THRESHOLDS: ``unhealthy N, healthy M`` of the health check;
    * PANIC: ``common_lb_config.healthy_panic_threshold`` in percent, ``fail`` added when traffic fails on panic;
    * OUTLIER: the set ``consecutive_*`` limits of ``outlier_detection`` (``5xx=3``), ``on`` when none is set;
    * POLICIES: ``KIND NAME`` of every policy in the cluster (:func:`kumahc.views.contributors.contributors`).

    Raises :class:`kumahc.render.NoProxyMatch` when ``proxy`` matches nothing."""
    convert = ClusterJson()
    cells: dict[int, tuple[str, ...]] = {}
    out = []
    for p in result.view.proxies:
        if proxy is not None and not matches_proxy(p.mesh, p.name, proxy):
            continue
        for cr in result.clusters[(p.mesh, p.name)]:
            found = cells.get(id(cr))
            if found is None:
                found = cells[id(cr)] = _cells(convert(cr.cluster))
            dest = result.view.destinations[(p.mesh, cr.cluster.name)]
            policies = ", ".join(contributors(result, p, dest, cr.groups)) or NONE
            out.append((f"{p.mesh}/{p.name}", cr.cluster.name, *found, policies))
    if proxy is not None and not out and not any(matches_proxy(p.mesh, p.name, proxy) for p in result.view.proxies):
        raise no_proxy_match(result, proxy)
    return out


def _cells(c: dict[str, Any]) -> tuple[str, ...]:
    hc = (c.get("health_checks") or [None])[0]
    if hc is None:
        checker = timing = thresholds = NONE
    else:
        checker = _checker(hc)
        timing = f"{hc.get('interval', NONE)}/{hc.get('timeout', NONE)}"
        thresholds = f"unhealthy {hc.get('unhealthy_threshold', 0)}, healthy {hc.get('healthy_threshold', 0)}"
    return checker, timing, thresholds, _panic(c.get("common_lb_config")), _outlier(c.get("outlier_detection"))


def _checker(hc: dict[str, Any]) -> str:
    if "http_health_check" in hc:
        return f"http {hc['http_health_check'].get('path', '/')}"
    if "grpc_health_check" in hc:
        service = hc["grpc_health_check"].get("service_name")
        return f"grpc {service}" if service else "grpc"
    if "tcp_health_check" in hc:
        return "tcp"
    return next(iter(k for k in hc if k.endswith("_health_check")), NONE)


def _panic(lb: dict[str, Any] | None) -> str:
    if lb is None or "healthy_panic_threshold" not in lb:
        return NONE
    value = lb["healthy_panic_threshold"].get("value", 0)
    text = f"{value:g}%"
    if (lb.get("zone_aware_lb_config") or {}).get("fail_traffic_on_panic") or (
            lb.get("locality_weighted_lb_config") or {}).get("fail_traffic_on_panic"):
        text += " fail"
    return text


def _outlier(od: dict[str, Any] | None) -> str:
    if od is None:
        return NONE
    limits = [f"{k.removeprefix('consecutive_')}={v}" for k, v in od.items() if k.startswith("consecutive_")]
    return " ".join(limits) or "on"


def text(table: list[tuple[str, ...]]) -> str:
    """The header and rows as aligned columns (two spaces apart, the last column unpadded), newline-terminated."""
    all_rows = [HEADER, *table]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(HEADER) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in all_rows]
    return "\n".join(lines) + "\n"
