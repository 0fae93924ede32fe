"""Fill the ``bootstrap-{cds,ads,delta}.yaml`` templates of this folder (spec 06 §10)."""

from __future__ import annotations

from pathlib import Path
from string import Template
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MODES = ("cds", "ads", "delta", "ads-mtls")


def xds_bootstrap(mode: str, node_id: str, xds_port: int, admin_port: int = 0,
                  listeners: list[dict[str, Any]] | None = None, **files: str) -> dict[str, Any]:
    """The bootstrap of ``mode`` (cds = per-type SotW, ads = aggregated SotW, delta = per-type Delta, ads-mtls =
    ADS over mutual TLS) for ``node_id`` against kumahc on 127.0.0.1:``xds_port``; optional static ``listeners``
    are added. ads-mtls needs ``CLIENT_CERT``, ``CLIENT_KEY`` and ``XDS_CA`` (paths) in ``files``."""
    text = (HERE / f"bootstrap-{mode}.yaml").read_text(encoding="utf-8")
    boot = yaml.safe_load(Template(text).substitute(NODE_ID=node_id, XDS_PORT=xds_port, ADMIN_PORT=admin_port,
                                                    **files))
    if listeners:
        boot["static_resources"]["listeners"] = listeners
    return boot
