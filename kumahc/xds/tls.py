"""Transport security of the xDS listener: server certificate files re-read when they change, optional client
certificates (mTLS) that name the proxy they may fetch.

Identity rule (issue 18): a client certificate's URI SAN ``spiffe://<mesh>/dataplane/<proxy>`` authorizes exactly
one ``(mesh, proxy)`` pair, which a stream may ask for as node id ``<mesh>.<proxy>``; the stream is then served
that pair, never what a re-split of the id or the mesh ``default`` fallback would find. A certificate may carry
several such SANs; an id that two of its pairs spell is refused, and one URI SAN with a control character refuses
the whole certificate. SANs are read from the verified certificate's PEM with ``cryptography``. The check runs
on the stream's first request (:class:`kumahc.xds.streams.Stream`), before the stream reads the cache.

Files are checked with the standard library's ``ssl`` module (PEM parsing, key matches certificate, CA parses),
so a bad file is one line naming it at start-up, and a bad rotation keeps the last good files in use.
"""

from __future__ import annotations

import os
import ssl
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import grpc
from cryptography import x509

SPIFFE = "spiffe://"
DATAPLANE = "/dataplane/"


class TlsFileError(ValueError):
    """A certificate, key or CA file cannot be used; ``str()`` is the one-line message (after ``error: ``)."""


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """The ``--xds-tls-cert``, ``--xds-tls-key`` and optional ``--xds-client-ca`` paths."""

    cert: str
    key: str
    client_ca: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.cert, self.key) + ((self.client_ca,) if self.client_ca else ())


@dataclass(frozen=True, slots=True)
class Material:
    """The bytes of one checked set of files, and the (size, mtime_ns) of each file they were read at."""

    cert: bytes
    key: bytes
    client_ca: bytes | None
    stamp: tuple[tuple[int, int], ...]


def _stamp(paths: Sequence[str]) -> tuple[tuple[int, int], ...]:
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((st.st_size, st.st_mtime_ns))
    return tuple(out)


def _read(path: str, flag: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise TlsFileError(f"{flag} {path}: cannot read: {exc.strerror or exc}") from None


def load(files: TlsFiles) -> Material:
    """Read and check the files. Raises :class:`TlsFileError`: unreadable file, not PEM, encrypted key, key not
    matching the certificate, CA file without a certificate."""
    try:
        before = _stamp(files.paths)
    except OSError as exc:
        raise TlsFileError(f"{_flag(files, exc.filename)} {exc.filename}: cannot read: {exc.strerror}") from None
    cert = _read(files.cert, "--xds-tls-cert")
    key = _read(files.key, "--xds-tls-key")
    ca = _read(files.client_ca, "--xds-client-ca") if files.client_ca else None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if b"-----BEGIN CERTIFICATE-----" not in cert:
        raise TlsFileError(f"--xds-tls-cert {files.cert}: no PEM certificate in the file")
    if b"PRIVATE KEY-----" not in key:
        raise TlsFileError(f"--xds-tls-key {files.key}: no PEM private key in the file")
    try:
        # An empty password: an encrypted key fails here instead of prompting on the terminal.
        ctx.load_cert_chain(files.cert, files.key, password=b"")
    except ssl.SSLError as exc:
        reason = exc.reason or str(exc)
        if "KEY_VALUES_MISMATCH" in reason:
            raise TlsFileError(f"--xds-tls-key {files.key}: does not match the certificate in --xds-tls-cert "
                               f"{files.cert}") from None
        if "BAD_DECRYPT" in reason or "DECRYPT" in reason:
            raise TlsFileError(f"--xds-tls-key {files.key}: encrypted private keys are not supported") from None
        raise TlsFileError(f"--xds-tls-cert {files.cert} / --xds-tls-key {files.key}: cannot be used: "
                           f"{reason}") from None
    except OSError as exc:
        raise TlsFileError(f"--xds-tls-cert {files.cert}: cannot read: {exc.strerror or exc}") from None
    if ca is not None:
        if b"-----BEGIN CERTIFICATE-----" not in ca:
            raise TlsFileError(f"--xds-client-ca {files.client_ca}: no PEM certificate in the file")
        try:
            ctx.load_verify_locations(cadata=ca.decode("ascii", "replace"))
        except (ssl.SSLError, ValueError) as exc:
            raise TlsFileError(f"--xds-client-ca {files.client_ca}: no usable PEM certificate: "
                               f"{getattr(exc, 'reason', None) or exc}") from None
    try:
        after = _stamp(files.paths)
    except OSError as exc:
        raise TlsFileError(f"{_flag(files, exc.filename)} {exc.filename}: cannot read: {exc.strerror}") from None
    if after != before:
        # Replaced while we read it: the bytes may be a mix of two versions. The caller retries later.
        raise TlsFileError(f"{files.cert}: changed while being read")
    return Material(cert, key, ca, after)


def _flag(files: TlsFiles, path: str | None) -> str:
    if path == files.key:
        return "--xds-tls-key"
    if path == files.client_ca:
        return "--xds-client-ca"
    return "--xds-tls-cert"


def _configuration(m: Material) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration([(m.key, m.cert)], root_certificates=m.client_ca)


class Rotating:
    """Server credentials whose files are re-read when their (size, mtime) change. grpc asks
    :meth:`_fetch` before each TLS handshake; a changed, valid set is used from the next handshake on (open
    connections keep theirs). A changed set that does not load is reported once through ``on_error`` and the
    last good set stays in use."""

    def __init__(self, files: TlsFiles, on_change: Callable[[str], None], on_error: Callable[[str], None]):
        self.files = files
        self.current = load(files)
        self._on_change = on_change
        self._on_error = on_error
        self._failed: tuple[tuple[int, int], ...] | None = None
        self._lock = threading.Lock()

    def credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(_configuration(self.current), self._fetch,
                                                   require_client_authentication=self.files.client_ca is not None)

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """None = keep the current configuration (grpc's contract). Must never raise: grpc would fail the
        handshake."""
        try:
            with self._lock:
                try:
                    stamp = _stamp(self.files.paths)
                except OSError as exc:
                    return self._fail(stamp=None, message=f"{exc.filename}: cannot read: {exc.strerror}")
                if stamp == self.current.stamp or stamp == self._failed:
                    return None
                try:
                    material = load(self.files)
                except TlsFileError as exc:
                    return self._fail(stamp, str(exc))
                self.current, self._failed = material, None
                self._on_change("xds TLS files reloaded: " + ", ".join(self.files.paths))
                return _configuration(material)
        except Exception as exc:  # noqa: BLE001 - see the docstring
            self._on_error(f"xds TLS reload: internal: {type(exc).__name__}: {exc}")
            return None

    def _fail(self, stamp: tuple[tuple[int, int], ...] | None, message: str) -> None:
        if stamp is None or stamp != self._failed:
            self._on_error(f"xds TLS files not reloaded ({message}); keeping the last good ones")
        self._failed = stamp
        return None


Pair = tuple[str, str]  # (mesh, proxy name)


class NotAllowed(Exception):
    """A node id the client certificate does not authorize; ``str()`` is the gRPC status message."""


def printable(text: str) -> str:
    """``text`` safe to quote in one log line or status message: ``\\`` and ``"`` get a backslash, every
    character outside printable ASCII is written as in a Python string literal (``\\x00``, ``\\n``,
    ``\\xe9``), so a hostile value cannot end the quotes, split the line or hide characters."""
    return "".join(_ESCAPED.get(c) or (c if " " <= c <= "~" else c.encode("unicode_escape").decode("ascii"))
                   for c in text)


_ESCAPED = {"\\": "\\\\", '"': '\\"'}


def _control(text: str) -> bool:
    """C0 controls (NUL, CR, LF, ...) and DEL."""
    return any(c < " " or c == "\x7f" for c in text)


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """What one client certificate authorizes: ``pairs``, the (mesh, proxy) of each of its
    ``spiffe://<mesh>/dataplane/<proxy>`` URI SANs; ``refused``, why the certificate authorizes nothing at all
    (then ``pairs`` is empty), e.g. a URI SAN with a control character."""

    pairs: frozenset[Pair]
    refused: str | None = None

    def node_ids(self) -> list[str]:
        """The node ids the pairs spell (``<mesh>.<proxy>``), sorted, without duplicates."""
        return sorted({f"{m}.{p}" for m, p in self.pairs})

    def authorize(self, node_id: str) -> Pair:
        """The one pair whose ``<mesh>.<proxy>`` is exactly ``node_id``. The string is never split: the pair
        comes from the certificate, so a mesh or proxy name with dots cannot be re-read as another pair, and there
        is no mesh ``default`` fallback. Raises :class:`NotAllowed` when no pair spells ``node_id``, or when
        several do (``spiffe://a.b/dataplane/c`` and ``spiffe://a/dataplane/b.c`` both spell ``a.b.c``)."""
        matches = sorted(pair for pair in self.pairs if f"{pair[0]}.{pair[1]}" == node_id)
        if len(matches) == 1:
            return matches[0]
        shown = printable(node_id)
        if matches:
            names = ", ".join(printable(f"{m}/{p}") for m, p in matches)
            raise NotAllowed(f'node.id "{shown}" is not allowed by the client certificate: it names more than one '
                             f"of its proxies ({names})")
        allows = ", ".join(printable(n) for n in self.node_ids()) or "no node id"
        if self.refused:
            allows += f": {self.refused}"
        raise NotAllowed(f'node.id "{shown}" is not allowed by the client certificate (it allows {allows})')


def identity_of(uris: Sequence[str]) -> ClientIdentity:
    """The identity of a certificate with these URI SANs: ``spiffe://<mesh>/dataplane/<proxy>`` → the pair
    ``(mesh, proxy)``; other URIs, and a mesh or proxy part that is empty or holds ``/``, add nothing. One URI with
    a control character (C0 or DEL: NUL, CR, LF, ...) refuses the whole certificate: no proxy name has one, and
    TLS stacks that read SANs as C strings see only what comes before a NUL."""
    for uri in uris:
        if _control(uri):
            return ClientIdentity(frozenset(), f'URI SAN "{printable(uri)}" has a control character')
    out = set()
    for uri in uris:
        if not uri.startswith(SPIFFE):
            continue
        mesh, sep, proxy = uri[len(SPIFFE):].partition(DATAPLANE)
        if sep and mesh and proxy and "/" not in mesh and "/" not in proxy:
            out.add((mesh, proxy))
    return ClientIdentity(frozenset(out))


def certificate_identity(pem: bytes) -> ClientIdentity:
    """:func:`identity_of` the URI SANs of one PEM certificate, read with ``cryptography`` from the certificate
    itself (not from grpc's ``peer_uri`` property, which already holds a NUL-truncated value). A certificate that
    does not parse, or whose SAN extension does not, authorizes nothing."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            return ClientIdentity(frozenset())
        return identity_of(sans.get_values_for_type(x509.UniformResourceIdentifier))
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        return ClientIdentity(frozenset(), f"the client certificate cannot be read ({printable(str(exc))})")


def peer_identity(auth_context: Mapping[str, Sequence[bytes]]) -> ClientIdentity:
    """The identity of a gRPC peer: :func:`certificate_identity` of its ``x509_pem_cert`` auth property (the
    verified leaf certificate grpc hands over). No such property (no client certificate) authorizes nothing."""
    pems = auth_context.get("x509_pem_cert") or ()
    if len(pems) != 1:
        return ClientIdentity(frozenset(), "no client certificate")
    return certificate_identity(pems[0])
