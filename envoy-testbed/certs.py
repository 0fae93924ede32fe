"""Test certificates for ``kumahc serve`` over mTLS, made with the ``cryptography`` package (a test dependency).

A :class:`CA` signs a server certificate for kumahc (DNS SAN ``kumahc`` and ``localhost``, IP SAN 127.0.0.1) and
client certificates whose URI SAN ``spiffe://<mesh>/dataplane/<proxy>`` is the proxy's identity::

    ca = CA("mesh-ca")
    ca.server("kumahc").write(tmp / "server")            # server.crt, server.key
    ca.client("default", "web-01").write(tmp / "web-01")  # web-01.crt, web-01.key
    ca.write(tmp / "ca.crt")

Run as a script to write a demo set into a directory (``python envoy-testbed/certs.py DIR``): ``ca.crt``,
``server.crt``/``server.key`` and ``web-01.crt``/``web-01.key`` for proxy ``default.web-01``.
"""

from __future__ import annotations

import datetime
import ipaddress
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID = datetime.timedelta(days=2)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class Pair:
    """A certificate (PEM) and its private key (PEM)."""

    cert_pem: bytes
    key_pem: bytes

    def write(self, stem: Path) -> tuple[Path, Path]:
        """Write ``<stem>.crt`` and ``<stem>.key``; returns both paths."""
        crt, key = stem.with_suffix(".crt"), stem.with_suffix(".key")
        crt.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return crt, key


class CA:
    """A self-signed certificate authority (EC P-256)."""

    def __init__(self, name: str = "kumahc-test-ca"):
        self.key = _key()
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                                  content_commitment=False, key_encipherment=False,
                                                  data_encipherment=False, key_agreement=False,
                                                  encipher_only=False, decipher_only=False), critical=True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()),
                                    critical=False)
                     .sign(self.key, hashes.SHA256()))

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        path.write_bytes(self.pem)
        return path

    def _issue(self, cn: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> Pair:
        key = _key()
        now = datetime.datetime.now(datetime.UTC)
        cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(self.cert.subject)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + VALID)
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                               critical=False)
                .sign(self.key, hashes.SHA256()))
        return Pair(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def server(self, cn: str = "kumahc") -> Pair:
        """kumahc's serving certificate: DNS ``kumahc``, DNS ``localhost``, IP 127.0.0.1."""
        sans = [x509.DNSName("kumahc"), x509.DNSName("localhost"),
                x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return self._issue(cn, sans, ExtendedKeyUsageOID.SERVER_AUTH)

    def client(self, mesh: str, proxy: str, uris: list[str] | None = None) -> Pair:
        """A proxy's certificate: URI SAN ``spiffe://<mesh>/dataplane/<proxy>`` (or exactly ``uris``)."""
        names = uris if uris is not None else [f"spiffe://{mesh}/dataplane/{proxy}"]
        return self._issue(f"{mesh}.{proxy}", [x509.UniformResourceIdentifier(u) for u in names],
                           ExtendedKeyUsageOID.CLIENT_AUTH)


def demo(directory: Path) -> None:
    """The walk-through's files: ca.crt, server.crt/key, web-01.crt/key."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = CA("kumahc-demo-ca")
    ca.write(directory / "ca.crt")
    ca.server().write(directory / "server")
    ca.client("default", "web-01").write(directory / "web-01")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python envoy-testbed/certs.py DIR")
    demo(Path(sys.argv[1]))
    print(f"wrote {sys.argv[1]}/ca.crt, server.crt, server.key, web-01.crt, web-01.key")
