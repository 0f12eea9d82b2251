"""Port checks done before anything starts, so a taken port is reported, not a half-started stack."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass


class DevStackError(Exception):
    """The embedded stack could not start or stop; one-line message."""


class PortInUseError(DevStackError):
    pass


@dataclass(frozen=True)
class PortClaim:
    port: int
    label: str
    setting: str


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # SO_REUSEADDR: a port in TIME_WAIT is free for a server, only a bound/listening one is taken.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def ensure_ports_free(claims: Iterable[PortClaim]) -> None:
    seen: dict[int, PortClaim] = {}
    for claim in claims:
        if claim.port in seen:
            other = seen[claim.port]
            raise PortInUseError(
                f"port {claim.port} is set for both {other.label} ({other.setting}) and {claim.label} "
                f"({claim.setting}); give each its own port"
            )
        seen[claim.port] = claim
        if port_in_use(claim.port):
            raise PortInUseError(
                f"port {claim.port} ({claim.label}) is already in use; "
                f"stop what holds it or set {claim.setting}"
            )


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS considers free right now (for tests and the dev server's internal ports)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
