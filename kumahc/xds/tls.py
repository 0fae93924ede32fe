"""Transport security of the xDS listener: server certificate files re-read when they change, optional client
certificates (mTLS) that name the proxy they may fetch.

Identity rule: a client certificate whose URI SAN is ``spiffe://<mesh>/dataplane/<proxy>`` allows exactly the
node id ``<mesh>.<proxy>``; a certificate may carry several such SANs (each allows its id), and one without any
allows nothing. The check runs at the server edge (:mod:`kumahc.xds.server`) on the stream's first request,
before the stream reads the cache.

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


def allowed_nodes(uris: Sequence[str]) -> frozenset[str]:
    """Node ids a client certificate allows, from its URI SANs: ``spiffe://<mesh>/dataplane/<proxy>`` →
    ``<mesh>.<proxy>``. Other URIs, and a proxy part with ``/`` or empty mesh/proxy, allow nothing."""
    out = set()
    for uri in uris:
        if not uri.startswith(SPIFFE):
            continue
        mesh, sep, proxy = uri[len(SPIFFE):].partition(DATAPLANE)
        if sep and mesh and proxy and "/" not in mesh and "/" not in proxy:
            out.add(f"{mesh}.{proxy}")
    return frozenset(out)


def peer_nodes(auth_context: Mapping[str, Sequence[bytes]]) -> frozenset[str]:
    """:func:`allowed_nodes` of a gRPC peer (its ``peer_uri`` auth properties: the certificate's URI SANs)."""
    return allowed_nodes([u.decode("utf-8", "replace") for u in auth_context.get("peer_uri", ())])
