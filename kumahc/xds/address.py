"""``HOST:PORT`` listener addresses of ``serve`` (kept free of grpc imports: the CLI parses them before grpc is
loaded, see ``kumahc.commands.serve``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    """``HOST:PORT`` or ``[v6]:PORT``; port 0 = any free port."""

    host: str
    port: int

    @staticmethod
    def parse(text: str) -> Address:
        """Raises ValueError with a message for the usage error."""
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f'"{text}" is not HOST:PORT')
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f'"{text}" is not HOST:PORT')
            host = host[1:-1]
        return Address(host, int(port))

    def show(self, port: int | None = None) -> str:
        p = self.port if port is None else port
        return f"[{self.host}]:{p}" if ":" in self.host else f"{self.host}:{p}"
