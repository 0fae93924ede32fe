"""Load: files → documents → recognised, structurally valid resources (spec 01 §1–§4, §3.1).

The only module of the pipeline that reads files. Everything it finds wrong goes into the :class:`Report`;
documents with problems are left out of the result.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kumahc.diagnostics import Diagnostic, FatalInputError, Location, Report
from kumahc.resources import files, kinds
from kumahc.resources.fieldpath import format_path
from kumahc.resources.model import (
    API_VERSIONS,
    CLUSTER_SCOPED,
    KINDS,
    KUBERNETES,
    KUBERNETES_ONLY,
    LEGACY,
    UNIVERSAL,
    Resource,
    Source,
)
from kumahc.resources.schema import structural_problems
from kumahc.resources.yaml.builder import intern
from kumahc.resources.yaml.chunks import Fingerprint, fingerprints
from kumahc.resources.yaml.cutting import cut
from kumahc.resources.yaml.documents import parse
from kumahc.resources.yaml.errors import TooManyDocuments, YamlSyntaxError
from kumahc.resources.yaml.marks import RawDocument

_KNOWN_GROUPS = ("kuma.io/", "configuration.konghq.com/")
SKIPPED = "kumahc reads " + ", ".join(KINDS)


@dataclass(frozen=True, slots=True)
class Loaded:
    """What loading produced: every file read (for ``validate``'s count), the resources in input order, and how
    many documents were of a kumahc kind (``ok: N resources``, 07 §3)."""

    files: tuple[files.InputFile, ...]
    resources: tuple[Resource, ...]
    counted: int


@dataclass(frozen=True, slots=True)
class _FileResult:
    """What one file gave: its resources, how many documents were of a kumahc kind, its diagnostics, and how
    many documents it holds (for the run's document limit)."""

    stamp: tuple
    resources: tuple[Resource, ...]
    counted: int
    diagnostics: tuple[Diagnostic, ...]
    documents: int = 0
    fingerprints: tuple[Fingerprint, ...] | None = None  # per document, when the file was read for a FileCache


class FileCache:
    """Results of files read before, for ``serve`` reloads: a file whose name, position in input order, size and
    mtime (ns) are unchanged is not read again; its resources (the same objects) and diagnostics are reused. A
    changed file is read again, but each of its documents whose text and first line are unchanged keeps its
    previous :class:`Resource` object (:mod:`kumahc.resources.yaml.chunks`), so everything kept by resource
    downstream (typed values, proxy classes, reach warnings) stays for it. Entries of files not seen in the last
    load are dropped."""

    def __init__(self) -> None:
        self._files: dict[str, _FileResult] = {}
        self.unchanged = False  # the last load read no file: the same files, in the same order, all unchanged
        # ``serve`` sets this to its watcher's test of "open for writing": such a file is not read; what was read
        # from it before is used (a new file is left out until its writer closes it).
        self.held: Callable[[str], bool] | None = None

    def get(self, path: str, stamp: tuple) -> _FileResult | None:
        found = self._files.get(path)
        return found if found is not None and found.stamp == stamp else None

    def previous(self, path: str, name: str, index: int) -> _FileResult | None:
        """What was read from ``path`` (named ``name``) before, whatever its stamp now. Its messages keep the
        position in input order the file had then (``index`` is where it is now)."""
        found = self._files.get(path)
        return found if found is not None and found.stamp[0] == name else None

    def keep(self, results: dict[str, _FileResult]) -> None:
        self._files = results


def load(paths: list[str], report: Report, cache: FileCache | None = None,
         limits: files.Limits = files.DEFAULT_LIMITS, stdin: str | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> Loaded:
    """Read ``paths`` (01 §1) and return the resources that passed the load and structural checks. Problems are
    added to ``report``. With ``cache``, unchanged files are taken from it (:class:`FileCache`). ``limits``
    bound each file's size and the documents of the whole run; past the document limit the remaining files are
    not read (one error names the file and line where it was reached). Raises :class:`FatalInputError`
    (``no input files found``) when the paths hold no file to read and nothing else went wrong. ``stdin``: see
    :func:`files.discover`. ``progress``: called as ``progress("files read", done, total)`` after each file."""
    inputs = files.discover(paths, report, stdin)
    if not inputs and not report.has_errors():
        raise FatalInputError("no input files found")
    resources: list[Resource] = []
    counted = 0
    budget = limits.max_documents
    seen: dict[str, _FileResult] = {}
    unchanged = cache is not None and not report.items and len(inputs) == len(cache._files)
    for index, f in enumerate(inputs):
        if budget < 0:
            break
        stamp = _stamp(f, index)
        result = cache.get(f.path, stamp) if cache is not None and stamp is not None else None
        if result is None and cache is not None and cache.held is not None and cache.held(f.path):
            result = cache.previous(f.path, f.name, index)
            if result is None:
                continue  # a new file still being written: not an input yet
            stamp = result.stamp
        if result is None or result.documents > budget:
            unchanged = False
            before = cache._files.get(f.path) if cache is not None and stamp is not None else None
            if before is not None and before.stamp[:2] != stamp[:2]:
                before = None  # another name or place in input order: its messages would differ
            result = _read(f, index, stamp, limits.max_file_bytes, budget, limits.max_documents,
                           cache is not None, before)
        budget -= result.documents
        if stamp is not None:
            seen[f.path] = result
        report.extend(result.diagnostics)
        resources.extend(result.resources)
        counted += result.counted
        if progress is not None:
            progress("files read", index + 1, len(inputs))
    if cache is not None:
        cache.unchanged = unchanged and budget >= 0
        cache.keep(seen)
    return Loaded(tuple(inputs), tuple(drop_duplicates(resources, report)), counted)


def _stamp(f: files.InputFile, index: int) -> tuple | None:
    if f.path == files.STDIN:
        return None  # read once per process (files.read_bytes): nothing to compare
    try:
        st = os.stat(f.path)
    except OSError:
        return None  # reading reports it
    # The inode too: a ConfigMap update swaps in a new file that may have the same size and mtime.
    return (f.name, index, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _read(f: files.InputFile, index: int, stamp: tuple | None, max_bytes: int = files.MAX_FILE_BYTES,
          budget: int = files.MAX_DOCUMENTS, max_documents: int = files.MAX_DOCUMENTS, cached: bool = False,
          before: _FileResult | None = None) -> _FileResult:
    """Read, parse, recognise and structurally check one file. ``budget``: documents the run may still read;
    a file that holds more gives ``documents = budget + 1`` (the run stops there). ``cached``: note each
    document's fingerprint (for a :class:`FileCache`); ``before``: what the same file gave last time, whose
    resources of unchanged documents are kept (:func:`_keep_unchanged`)."""
    report = Report()
    resources: list[Resource] = []
    counted = 0
    try:
        text = files.read_text(f, max_bytes)
    except UnicodeDecodeError as exc:
        report.plain_error(f"{f.name}:{_byte_line(f, exc.start)}: invalid YAML: not UTF-8 "
                           f"(byte 0x{exc.object[exc.start]:02x} at offset {exc.start})")
        return _FileResult(stamp, (), 0, tuple(report.items))
    except OSError as exc:
        report.plain_error(f"{f.name}: cannot read: {exc.strerror or exc}")
        return _FileResult(stamp, (), 0, tuple(report.items))
    read = None
    # A file of more documents than the run may still read is cut before any is built: memory follows the limit.
    text, overflow = cut(text, budget)
    try:
        documents = parse(text, max_documents=budget)
        if overflow is not None:
            raise TooManyDocuments(overflow, documents)
    except YamlSyntaxError as exc:
        documents = exc.documents
        cached = False  # documents may stop before their chunks do: fingerprint nothing
        # No subject: the document's kind and name may be unreadable (01 §1).
        report.error(Location(f.name, index, 0, ""), exc.line, None, f"invalid YAML: {exc.problem}")
    except TooManyDocuments as exc:
        documents, read = exc.documents, budget + 1
        report.error(Location(f.name, index, 0, ""), exc.line, None,
                     f"more than {max_documents:,} documents in the inputs (raise the limit with --max-documents)")
    prints = fingerprints(text) if cached and overflow is None and read is None else None
    if prints is not None and len(prints) != len(documents):
        prints = None  # a null document, or one the cut could not see: pair nothing
    del text
    for doc in documents:
        res, is_kumahc = _resource(f, index, doc, report)
        counted += is_kumahc
        if res is not None:
            resources.append(res)
    if prints is not None and before is not None and before.fingerprints is not None:
        _keep_unchanged(resources, prints, before)
    return _FileResult(stamp, tuple(resources), counted, tuple(report.items),
                       len(documents) if read is None else read, prints)


def _keep_unchanged(resources: list[Resource], prints: tuple[Fingerprint, ...], before: _FileResult) -> None:
    """Replace, in place, each resource whose document has the fingerprint its namesake (same document number)
    had in ``before`` by the resource read then: same text at the same lines gives the same resource, messages
    included."""
    old = before.fingerprints or ()
    previous = {r.src.loc.document: r for r in before.resources}
    for i, res in enumerate(resources):
        n = res.src.loc.document
        kept = previous.get(n)
        if (kept is not None and n <= len(old) and old[n - 1] == prints[n - 1] and kept.kind == res.kind
                and kept.src.loc == res.src.loc
                and (kept.src.doc.value is None or kept.src.doc.value == res.src.doc.value)):
            resources[i] = kept


def _byte_line(f: files.InputFile, offset: int) -> int:
    try:
        return files.read_bytes(f)[:offset].count(b"\n") + 1
    except OSError:
        return 1


def _recognise(value: dict) -> tuple[str, str] | tuple[None, tuple | None]:
    """(format, kind) for a kumahc resource, or (None, skip path) for a document to skip."""
    t, k, api = value.get("type"), value.get("kind"), value.get("apiVersion")
    if isinstance(t, str) and t in KINDS:
        return UNIVERSAL, t
    if isinstance(k, str) and k in KINDS:
        if api is None or (isinstance(api, str) and (api.startswith(_KNOWN_GROUPS) or api == "v1")):
            return KUBERNETES, k
        return None, ("kind",)
    # `kind` first: Kubernetes manifests may carry a `type` field of their own (a Secret's `type: Opaque`).
    if "kind" in value:
        return None, ("kind",)
    if "type" in value:
        return None, ("type",)
    return None, ()


def _resource(f: files.InputFile, index: int, doc: RawDocument, report: Report) -> tuple[Resource | None, bool]:
    """One document → a Resource, or None (skipped or invalid). Second value: it is of a kumahc kind."""
    anonymous = Location(f.name, index, doc.number, f"document {doc.number}")
    value = doc.value
    if not isinstance(value, dict):
        report.error(anonymous, doc.mark.line, None, "must be a mapping")
        return None, False
    fmt, kind_or_path = _recognise(value)
    if fmt is None:
        path = kind_or_path
        shown = value.get(path[0]) if path else ""
        mistake = _mistaken_kind(value, path)
        if mistake is not None:
            report.error(anonymous, doc.line(path), format_path(path), mistake)
            return None, False
        report.warning(anonymous, doc.line(path), format_path(path) or None,
                       f'skipped kind "{_scalar_text(shown)}" ({SKIPPED})')
        for problem in doc.problems:  # YAML problems of 01 §1 (duplicate keys) stay errors in skipped documents
            report.error(anonymous, problem.line, format_path(problem.path) or None, problem.message)
        return None, False
    kind = kind_or_path
    name = _name(value, fmt)
    subject = f"{kind} {_display(kind, fmt, value, name)}" if name else anonymous.subject
    loc = Location(f.name, index, doc.number, subject)
    src = Source(loc, doc)
    for problem in doc.problems:
        report.error(loc, problem.line, format_path(problem.path) or None, problem.message)
    if doc.problems:
        return None, True
    if not _load_checks(kind, fmt, value, src, report):
        return None, True
    problems = structural_problems(kind, value, fmt, doc.plain)
    for path, message in problems:
        src.error(report, path, message)
    if problems:
        return None, True
    if doc.plain and kind == "Dataplane":
        _share_strings(value)
    return _build(kind, fmt, value, src, report), True


def _share_strings(value: dict) -> None:
    """Intern, in place, the keys and strings every Dataplane of a mesh repeats (its inbounds and outbounds with
    their tags and backendRefs, its labels) in a structurally valid document the native reader gave unchecked. The
    checked paths intern every short string as they build values; without this a mesh of 10,000 proxies would hold
    one copy of ``kuma.io/service`` and of each service name per outbound until the Dataplanes are typed."""
    spec = value.get("spec")
    holder = spec if isinstance(spec, dict) else value
    net = holder.get("networking")
    if isinstance(net, dict):
        for key in ("inbound", "outbound"):
            items = net.get(key)
            if isinstance(items, list):
                for i, item in enumerate(items):
                    if isinstance(item, dict):
                        items[i] = {sys.intern(k): _shared(v) if type(v) is dict else intern(v)
                                    for k, v in item.items()}
    for owner in (value, value.get("metadata")):
        if isinstance(owner, dict) and isinstance(owner.get("labels"), dict):
            owner["labels"] = _shared(owner["labels"])


def _shared(mapping: dict) -> dict:
    return {sys.intern(k): intern(v) for k, v in mapping.items()}


def _mistaken_kind(value: dict, path: tuple) -> str | None:
    """The error for a document that was meant for Kuma or Kong but names no kind of theirs (a typo), or None
    for a document kumahc skips. Universal files hold only Kuma resources; in Kubernetes files only the kuma.io
    and configuration.konghq.com API groups are checked."""
    if path == ("type",):
        t = value["type"]
        if not isinstance(t, str):
            return "must be a string"
        return kinds.unknown_kind(t, kinds.KUMA, KINDS, "Kuma")
    if path == ("kind",):
        k, api = value["kind"], value.get("apiVersion")
        if not isinstance(k, str) or not isinstance(api, str):
            return None
        if api.startswith(kinds.KUMA_GROUP):
            return kinds.unknown_kind(k, kinds.KUMA, KINDS, "Kuma")
        if api.startswith(kinds.KONG_GROUP):
            return kinds.unknown_kind(k, kinds.KONG, KINDS, "Kong")
    return None


def _scalar_text(v: Any) -> str:
    return v if isinstance(v, str) else "" if v is None else str(v)


def _name(value: dict, fmt: str) -> str | None:
    if fmt == UNIVERSAL:
        n = value.get("name")
    else:
        meta = value.get("metadata")
        n = meta.get("name") if isinstance(meta, dict) else None
    return n if isinstance(n, str) and n else None


def _display(kind: str, fmt: str, value: dict, name: str) -> str:
    if fmt == UNIVERSAL or kind in CLUSTER_SCOPED:
        return name
    meta = value.get("metadata") or {}
    ns = meta.get("namespace", "default") if isinstance(meta, dict) else "default"
    return f"{ns if isinstance(ns, str) else 'default'}/{name}"


def _load_checks(kind: str, fmt: str, value: dict, src: Source, report: Report) -> bool:
    """01 §3.1 rows that depend only on the document's shape. False when the document is rejected."""
    if fmt == UNIVERSAL:
        if "apiVersion" in value or "kind" in value:
            src.error(report, ("type",), 'cannot mix Universal "type" with Kubernetes "apiVersion"/"kind"')
            return False
        if kind in KUBERNETES_ONLY:
            src.error(report, ("type",), f"kind {kind} is only supported in Kubernetes format")
            return False
        return True
    if "type" in value:
        src.error(report, ("type",), 'cannot mix Universal "type" with Kubernetes "apiVersion"/"kind"')
        return False
    api = value.get("apiVersion")
    if api is None:
        src.error(report, ("apiVersion",), "must be defined")
        return False
    if api != API_VERSIONS[kind]:
        src.error(report, ("apiVersion",), f'must be "{API_VERSIONS[kind]}" for kind {kind}')
        return False
    return True


def build(kind: str, fmt: str, value: dict, src: Source, report: Report) -> Resource | None:
    """A structurally valid document of ``kind`` in format ``fmt`` → its :class:`Resource` (identity, mesh,
    labels, creation time as written), or None after reporting a mesh that conflicts with label
    ``kuma.io/mesh``. The store builds its resources with it too."""
    return _build(kind, fmt, value, src, report)


def _build(kind: str, fmt: str, value: dict, src: Source, report: Report) -> Resource | None:
    if fmt == UNIVERSAL:
        name = value["name"]
        namespace = ""
        labels = dict(value.get("labels") or {})
        annotations: dict[str, str] = {}
        mesh = value.get("mesh") or "default"
        created = value.get("creationTime")
        base: tuple = () if kind in LEGACY else ("spec",)
    else:
        meta = value["metadata"]
        name = meta["name"]
        namespace = "" if kind in CLUSTER_SCOPED else meta.get("namespace", "default")
        labels = dict(meta.get("labels") or {})
        annotations = dict(meta.get("annotations") or {})
        created = meta.get("creationTimestamp")
        base = ("spec",)
        label_mesh = labels.get("kuma.io/mesh")
        top_mesh = value.get("mesh")
        if kind == "Service":
            mesh = label_mesh or annotations.get("kuma.io/mesh") or "default"
        else:
            if top_mesh is not None and label_mesh is not None and top_mesh != label_mesh:
                src.error(report, ("mesh",), f'conflicts with label kuma.io/mesh "{label_mesh}"')
                return None
            mesh = top_mesh or label_mesh or "default"
    return Resource(kind, fmt, name, namespace, mesh, labels, annotations, _timestamp(created), base, src)


def _timestamp(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("z", "Z").replace("t", "T").replace(" ", "T"))


def drop_duplicates(resources: list[Resource], report: Report) -> list[Resource]:
    """Same identity twice; two Dataplanes with the same proxy name in a mesh (01 §3.1). The later one is
    reported (naming the first) and dropped."""
    first: dict[tuple, Resource] = {}
    proxies: dict[tuple[str, str], Resource] = {}
    kept: list[Resource] = []
    for r in resources:
        prev = first.get(r.identity)
        if prev is not None:
            report.error(r.src.loc, r.src.doc.mark.line, None, f"duplicate resource: also defined at {prev.src.where}")
            continue
        first[r.identity] = r
        if r.kind == "Dataplane":
            key = (r.mesh, proxy_name(r))
            prev = proxies.get(key)
            if prev is not None:
                report.error(r.src.loc, r.src.doc.mark.line, None,
                             f'duplicate proxy name "{key[1]}" in mesh "{key[0]}": also defined at {prev.src.where}')
                continue
            proxies[key] = r
        kept.append(r)
    return kept


def proxy_name(dp: Resource) -> str:
    """Universal ``name``; Kubernetes ``<metadata.name>.<metadata.namespace>`` (01 §5.1)."""
    return dp.name if dp.format == UNIVERSAL else f"{dp.name}.{dp.namespace}"
