"""Binding the xDS listener so that a failure is kumahc's one line only (issue 23 item 7). grpc core reports a
failed bind itself, on file descriptor 2 in its own format (``E1207 … add_port.cc:83] Failed to add port …``),
whatever ``GRPC_VERBOSITY`` allows short of turning its errors off, then raises a ``RuntimeError`` that names no
cause. The bind therefore runs with descriptor 2 pointed at a temporary file: on success whatever was written
there is passed on unchanged, on failure it is dropped and the cause is found by binding the address once more
with a plain socket (its ``OSError`` says "Address already in use", "Cannot assign requested address", ...)."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator

from kumahc.xds.address import Address

STDERR_FD = 2
UNKNOWN = "address in use or unavailable"  # the probe bound the address: it was freed meanwhile, or grpc differs


class ListenError(Exception):
    """A listener could not bind; ``reason`` is the operating system's words for it."""

    def __init__(self, address: Address, reason: str) -> None:
        super().__init__(f"cannot listen on {address.show()}: {reason}")
        self.address = address
        self.reason = reason


@contextlib.contextmanager
def _stderr_held(keep: Callable[[], bool]) -> Iterator[None]:
    """Descriptor 2 goes to a temporary file in the block; afterwards what was written is copied to the real
    descriptor 2 when ``keep()`` is true, dropped otherwise. Python's own ``sys.stderr`` is flushed on both sides
    so that nothing it buffered lands on the wrong side."""
    sys.stderr.flush()
    saved = os.dup(STDERR_FD)
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), STDERR_FD)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, STDERR_FD)
            os.close(saved)
            if keep():
                held.seek(0)
                data = held.read()
                if data:
                    os.write(STDERR_FD, data)


def bind_reason(address: Address) -> str:
    """Why ``address`` cannot be bound now, found by binding it with a plain socket as grpc does
    (``SO_REUSEADDR``, no ``SO_REUSEPORT``): the ``OSError``'s text, or :data:`UNKNOWN` when the probe binds."""
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return str(exc.strerror or exc)
    for family, kind, proto, _, where in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(where)
            except OSError as exc:
                return str(exc.strerror or exc)
    return UNKNOWN


def bind_quietly(add_port: Callable[[str], int], address: Address) -> int:
    """``add_port(address)`` (a grpc server's ``add_insecure_port`` or a secure one) with grpc core's own failure
    line kept off stderr. Returns the bound port; raises :class:`ListenError` when the bind fails."""
    port = 0
    with _stderr_held(lambda: port != 0):
        with contextlib.suppress(RuntimeError):  # grpc's "Failed to bind to address ..." (no cause in it)
            port = add_port(address.show())
    if not port:
        raise ListenError(address, bind_reason(address))
    return port
