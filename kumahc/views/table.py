"""``kumahc render -o table`` and ``-o wide``: one line per (proxy, cluster), like ``istioctl proxy-config cluster``;
``wide`` adds the endpoint count, the outlier ejection timing and the circuit-breaker limits before POLICIES, as
``kubectl get -o wide`` adds columns.

Every cell is read from the rendered cluster's JSON (the same document ``render`` prints), the POLICIES cell from
:mod:`kumahc.views.contributors`, so the table cannot disagree with the JSON.
"""

from __future__ import annotations

from typing import Any

from kumahc.pipeline import Result
from kumahc.render import ClusterJson, matches_proxy, no_proxy_match
from kumahc.views.contributors import contributors

HEADER = ("PROXY", "CLUSTER", "CHECKER", "INTERVAL/TIMEOUT", "THRESHOLDS", "PANIC", "OUTLIER", "POLICIES")
# -o wide: HEADER with these columns inserted before POLICIES (which stays last: it is the long, unpadded one).
WIDE_EXTRA = ("ENDPOINTS", "EJECTION", "LIMITS")
WIDE_HEADER = (*HEADER[:-1], *WIDE_EXTRA, HEADER[-1])
NONE = "-"


def rows(result: Result, proxy: str | None = None, wide: bool = False) -> list[tuple[str, ...]]:
    """One row per cluster of every proxy (or those matching ``proxy``, as ``render --proxy``), in render order,
    with the cells of :data:`HEADER` (:data:`WIDE_HEADER` when ``wide``). Cells (``-`` when the cluster has none):

    * CHECKER: ``http PATH``, ``grpc`` (``grpc SERVICE`` with a service name), ``tcp``;
    * INTERVAL/TIMEOUT: the health check's ``interval/timeout`` (``10s/2s``);
    * THRESHOLDS: ``unhealthy N, healthy M`` of the health check;
    * PANIC: ``common_lb_config.healthy_panic_threshold`` in percent, ``fail`` added when traffic fails on panic;
    * OUTLIER: the set ``consecutive_*`` limits of ``outlier_detection`` (``5xx=3``), ``on`` when none is set;
    * POLICIES: ``KIND NAME`` of every policy in the cluster (:func:`kumahc.views.contributors.contributors`);
    * wide only, ENDPOINTS: the number of ``lb_endpoints`` in the cluster's ``load_assignment`` (``-`` without one);
    * wide only, EJECTION: ``outlier_detection``'s ``interval/base_ejection_time`` and ``max N%`` when set;
    * wide only, LIMITS: the set ``max_*`` fields of the first ``circuit_breakers.thresholds`` entry, without the
      ``max_`` prefix (``connections=1024 pending_requests=128``).

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
                found = cells[id(cr)] = _cells(convert(cr.cluster), wide)
            dest = result.view.destinations[(p.mesh, cr.cluster.name)]
            policies = ", ".join(contributors(result, p, dest, cr.groups)) or NONE
            out.append((f"{p.mesh}/{p.name}", cr.cluster.name, *found, policies))
    if proxy is not None and not out and not any(matches_proxy(p.mesh, p.name, proxy) for p in result.view.proxies):
        raise no_proxy_match(result, proxy)
    return out


def _cells(c: dict[str, Any], wide: bool) -> tuple[str, ...]:
    hc = (c.get("health_checks") or [None])[0]
    if hc is None:
        checker = timing = thresholds = NONE
    else:
        checker = _checker(hc)
        timing = f"{hc.get('interval', NONE)}/{hc.get('timeout', NONE)}"
        thresholds = f"unhealthy {hc.get('unhealthy_threshold', 0)}, healthy {hc.get('healthy_threshold', 0)}"
    narrow = (checker, timing, thresholds, _panic(c.get("common_lb_config")), _outlier(c.get("outlier_detection")))
    if not wide:
        return narrow
    return (*narrow, _endpoints(c.get("load_assignment")), _ejection(c.get("outlier_detection")),
            _limits(c.get("circuit_breakers")))


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


def _endpoints(la: dict[str, Any] | None) -> str:
    if la is None:
        return NONE
    return str(sum(len(locality.get("lb_endpoints", ())) for locality in la.get("endpoints", ())))


def _ejection(od: dict[str, Any] | None) -> str:
    if od is None:
        return NONE
    text = f"{od.get('interval', NONE)}/{od.get('base_ejection_time', NONE)}"
    if "max_ejection_percent" in od:
        text += f" max {od['max_ejection_percent']}%"
    return text


def _limits(cb: dict[str, Any] | None) -> str:
    thresholds = (cb or {}).get("thresholds") or [{}]
    limits = [f"{k.removeprefix('max_')}={v}" for k, v in thresholds[0].items() if k.startswith("max_")]
    return " ".join(limits) or NONE


def text(table: list[tuple[str, ...]], header: tuple[str, ...] = HEADER) -> str:
    """``header`` and the rows as aligned columns (two spaces apart, the last column unpadded), newline-terminated.
    """
    all_rows = [header, *table]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1] for r in all_rows]
    return "\n".join(lines) + "\n"


def names(result: Result, proxy: str | None = None) -> str:
    """``render -o name``: one ``MESH/NAME`` line per proxy (or those matching ``proxy``), in render order, as
    ``kubectl get -o name`` prints one name per object. Raises :class:`kumahc.render.NoProxyMatch` when ``proxy``
    matches nothing."""
    found = [f"{p.mesh}/{p.name}\n" for p in result.view.proxies
             if proxy is None or matches_proxy(p.mesh, p.name, proxy)]
    if proxy is not None and not found:
        raise no_proxy_match(result, proxy)
    return "".join(found)
