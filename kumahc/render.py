"""The rendered document (spec 05 §2): ``{"proxies": [{"mesh", "name", "clusters": [...]}]}`` as JSON or YAML,
byte-stable, and atomic writing of ``--output-file FILE``."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import yaml
from envoy.config.cluster.v3 import cluster_pb2
from google.protobuf import any_pb2, json_format

from kumahc.envoy import cluster as envoy_cluster
from kumahc.jsontext import dumps_indent2
from kumahc.pipeline import Result
from kumahc.resources.kinds import close_matches


class NoProxyMatch(LookupError):
    """``--proxy NAME`` matched no proxy; ``str()`` is the message printed after ``error: `` (07 §2)."""


def cluster_json(cluster: cluster_pb2.Cluster) -> dict[str, Any]:
    """A Cluster packed in ``Any`` → dict via ``json_format`` (snake_case, field-number order, ``@type`` first)."""
    packed = any_pb2.Any()
    packed.Pack(cluster)
    return json_format.MessageToDict(packed, preserving_proto_field_name=True)


# Field numbers give json_format's key order; "@type" comes first.
_ORDER = {f.name: f.number for f in cluster_pb2.Cluster.DESCRIPTOR.fields} | {"@type": -1}
# The parts that repeat across clusters and cost most to convert: one destination's endpoints appear in every
# proxy's cluster for it; one health check in every cluster of the same conf, protocol and source tags.
_SHARED = ("health_checks", "load_assignment")


class ClusterJson:
    """:func:`cluster_json` with the repeated parts converted once: each is converted by ``json_format`` on its own
    (keyed by its serialized bytes) and spliced back in field-number order, so the result equals
    :func:`cluster_json` exactly (tested on every golden cluster). Not thread-safe; one per build."""

    def __init__(self) -> None:
        self._parts: dict[tuple[str, bytes], Any] = {}

    def __call__(self, cluster: cluster_pb2.Cluster) -> dict[str, Any]:
        light = cluster_pb2.Cluster()
        light.CopyFrom(cluster)
        spliced: dict[str, Any] = {}
        for name in _SHARED:
            light.ClearField(name)
            if name == "health_checks":
                if cluster.health_checks:
                    spliced[name] = [self._part(name, hc) for hc in cluster.health_checks]
            elif cluster.HasField(name):
                spliced[name] = self._part(name, getattr(cluster, name))
        out = cluster_json(light)
        if spliced:
            out.update(spliced)
            out = dict(sorted(out.items(), key=lambda kv: _ORDER[kv[0]]))
        return out

    def _part(self, name: str, message: Any) -> Any:
        key = (name, message.SerializeToString(deterministic=True))
        found = self._parts.get(key)
        if found is None:
            found = self._parts[key] = json_format.MessageToDict(message, preserving_proto_field_name=True)
        return found


def no_match_message(what: str, selector: str, names: list[str]) -> str:
    """``no proxy matches "x"`` followed by the close matches among ``names`` (``; did you mean "a" or "b"?``) or,
    with none close, the names there are (the first five and how many more). ``what``: ``proxy``, ``cluster``."""
    close = close_matches(selector, names, 3)
    if close:
        return f'no {what} matches "{selector}"; did you mean ' + " or ".join(f'"{n}"' for n in close) + "?"
    if not names:
        return f'no {what} matches "{selector}" (there is none)'
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f'no {what} matches "{selector}" ({what} names: {shown})'


def no_proxy_match(result: Result, selector: str) -> NoProxyMatch:
    """:class:`NoProxyMatch` for ``--proxy selector``: close matches compare ``selector`` with ``NAME`` or
    ``MESH/NAME`` as it was written."""
    qualified = "/" in selector
    names = sorted({f"{p.mesh}/{p.name}" if qualified else p.name for p in result.view.proxies})
    return NoProxyMatch(no_match_message("proxy", selector, names))


def matches_proxy(mesh: str, name: str, selector: str) -> bool:
    """``--proxy NAME`` keeps proxies named NAME in any mesh, or exactly ``MESH/NAME``."""
    return selector == name or selector == f"{mesh}/{name}"


def load_assignment_json(la: Any) -> dict[str, Any]:
    """A ClusterLoadAssignment packed in ``Any`` → dict, like :func:`cluster_json`."""
    packed = any_pb2.Any()
    packed.Pack(la)
    return json_format.MessageToDict(packed, preserving_proto_field_name=True)


def document(result: Result, proxy: str | None = None, cache: dict[int, dict[str, Any]] | None = None,
             endpoints: str = envoy_cluster.STATIC, la_cache: dict[int, dict[str, Any]] | None = None
             ) -> dict[str, Any]:
    """The document for every proxy (sorted by mesh, name), or those matching ``proxy``. ``cache`` (keyed by
    ``id`` of a pipeline ClusterResult) lets a caller share the per-cluster JSON it also needs.

    ``endpoints`` = ``eds``: every cluster in its EDS form (:func:`kumahc.envoy.cluster.eds`) and each proxy gets
    ``load_assignments`` (one ClusterLoadAssignment per cluster, in cluster order; ``la_cache`` as ``cache``).
    ``static`` (default) is the document of 05 §2, unchanged.

    Raises :class:`NoProxyMatch` when ``proxy`` is given and matches nothing."""
    cache = {} if cache is None else cache
    la_cache = {} if la_cache is None else la_cache
    eds = endpoints == envoy_cluster.EDS
    convert = ClusterJson()
    proxies = []
    for p in result.view.proxies:
        if proxy is not None and not matches_proxy(p.mesh, p.name, proxy):
            continue
        clusters = []
        assignments = []
        for cr in result.clusters[(p.mesh, p.name)]:
            key = id(cr)
            if key not in cache or (eds and key not in la_cache):
                if eds:
                    cluster, la = envoy_cluster.eds(cr.cluster)
                    cache[key], la_cache[key] = convert(cluster), load_assignment_json(la)
                else:
                    cache[key] = convert(cr.cluster)
            clusters.append(cache[key])
            if eds:
                assignments.append(la_cache[key])
        entry: dict[str, Any] = {"mesh": p.mesh, "name": p.name, "clusters": clusters}
        if eds:
            entry["load_assignments"] = assignments
        proxies.append(entry)
    if proxy is not None and not proxies:
        raise no_proxy_match(result, proxy)
    return {"proxies": proxies}


def json_chunks(result: Result, proxy: str | None = None) -> Iterator[str]:
    """The JSON document of :func:`document` (``to_json(document(result, proxy))``, byte for byte) as pieces of
    text, assembled from each distinct cluster's own JSON text: a cluster shared by many proxies is converted and
    encoded once, and the whole document is never held in memory. Raises :class:`NoProxyMatch` at once (before
    any piece) when ``proxy`` matches nothing."""
    proxies = [p for p in result.view.proxies if proxy is None or matches_proxy(p.mesh, p.name, proxy)]
    if proxy is not None and not proxies:
        raise no_proxy_match(result, proxy)
    return _chunks(result, proxies)


_CLUSTER_INDENT = " " * 8  # {"proxies": [{"clusters": [ <here> ]}]}


def _chunks(result: Result, proxies: list) -> Iterator[str]:
    if not proxies:
        yield '{\n  "proxies": []\n}\n'
        return
    convert = ClusterJson()
    texts: dict[int, str] = {}  # id of a ClusterResult (alive in ``result``) → its indented JSON text
    yield '{\n  "proxies": [\n'
    last = len(proxies) - 1
    for i, p in enumerate(proxies):
        parts = []
        for cr in result.clusters[(p.mesh, p.name)]:
            text = texts.get(id(cr))
            if text is None:
                text = texts[id(cr)] = _CLUSTER_INDENT + dumps_indent2(convert(cr.cluster)).replace(
                    "\n", "\n" + _CLUSTER_INDENT)
            parts.append(text)
        clusters = "[\n" + ",\n".join(parts) + "\n      ]" if parts else "[]"
        yield (f'    {{\n      "mesh": {json.dumps(p.mesh, ensure_ascii=False)},\n'
               f'      "name": {json.dumps(p.name, ensure_ascii=False)},\n'
               f'      "clusters": {clusters}\n    }}' + (",\n" if i < last else "\n"))
    yield "  ]\n}\n"


def to_json(doc: dict[str, Any]) -> str:
    """05 §2 bytes: ``json.dumps(indent=2, ensure_ascii=False)`` plus a newline (written by the faster
    :func:`kumahc.jsontext.dumps_indent2`, byte-identical)."""
    return dumps_indent2(doc) + "\n"


def to_yaml(doc: dict[str, Any]) -> str:
    """05 §2 YAML. ``json_format`` returns ``OrderedDict`` for some messages (``Any``), which ``safe_dump`` cannot
    represent: a JSON round trip gives plain dicts in the same key order."""
    plain = json.loads(json.dumps(doc))
    return yaml.safe_dump(plain, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1000000)


def write_atomic(path: str, text: str | Iterable[str]) -> None:
    """Write ``text`` (a string, or pieces of one) to ``path``, never leaving it half-written and
    never replacing what is not a regular file:

    * a FIFO, a character device or anything else that is not a regular file (``/dev/null``, ``/dev/stdout``) is
      opened and written in place, as a shell redirection would;
    * a regular file (or the regular file a symbolic link points to) is replaced atomically: a temporary file
      beside it is written, given the old file's mode (and, when allowed, owner), and renamed over it; on any
      failure nothing is left behind and the old file is unchanged;
    * a new file gets the mode the umask gives (``0666 & ~umask``), as a shell redirection would.

    Raises OSError."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    pieces = [text] if isinstance(text, str) else text
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(pieces)
        return
    target = os.path.realpath(path)  # replace the file a link points to, not the link
    directory = os.path.dirname(target)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".kumahc-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            if st is not None:
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    with contextlib.suppress(OSError):  # only root may give a file away; the mode is kept anyway
                        os.fchown(fd, st.st_uid, st.st_gid)
            else:
                os.fchmod(fd, 0o666 & ~_umask())
            fh.writelines(pieces)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _umask() -> int:
    """The process umask, read without changing it (``/proc/self/status``) where Linux tells it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # no /proc: read it by setting it, then put it back
    os.umask(mask)
    return mask
