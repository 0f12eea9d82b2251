"""Real local components (Temporal dev server, Postgres, mail sink), used by `mentorflow dev up` and tests."""

from worker.devstack.binaries import temporal_cli, temporal_test_server
from worker.devstack.mailsink import MailSink
from worker.devstack.ports import (
    DevStackError,
    PortClaim,
    PortInUseError,
    ensure_ports_free,
    free_port,
    port_in_use,
)
from worker.devstack.postgres import EmbeddedPostgres, ExternalPostgres, PostgresServer
from worker.devstack.stack import RunningStack, embedded_stack, port_claims
from worker.devstack.temporal import TemporalDevServer, search_attribute_flags

__all__ = [
    "DevStackError",
    "EmbeddedPostgres",
    "ExternalPostgres",
    "MailSink",
    "PortClaim",
    "PortInUseError",
    "PostgresServer",
    "RunningStack",
    "TemporalDevServer",
    "embedded_stack",
    "ensure_ports_free",
    "free_port",
    "port_claims",
    "port_in_use",
    "search_attribute_flags",
    "temporal_cli",
    "temporal_test_server",
]
