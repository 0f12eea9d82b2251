"""The embedded stack as one unit: port checks first, then Temporal, Postgres (+ migrations), mail sink.

Used by `mentorflow dev up`; the test fixtures use the same components one by one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg

from infra.migrations import migrate, migrations_dir
from infra.settings import EMBEDDED_DATABASE, Settings, redact_url
from worker.devstack.mailsink import MailSink
from worker.devstack.ports import PortClaim, ensure_ports_free
from worker.devstack.postgres import EmbeddedPostgres
from worker.devstack.temporal import TemporalDevServer


@dataclass
class RunningStack:
    settings: Settings
    temporal: TemporalDevServer | None
    postgres: EmbeddedPostgres | None
    mail: MailSink | None

    def summary(self) -> dict[str, str]:
        s = self.settings
        lines = {
            "Temporal": s.temporal_target + (" (embedded)" if self.temporal else ""),
            "Temporal UI": (self.temporal.ui_url or "-") if self.temporal else "-",
            "Postgres": redact_url(s.postgres_dsn),
            "Mail": f"SMTP {s.smtp_target[0]}:{s.smtp_target[1]} -> {s.mail_dir.resolve()}"
            if self.mail
            else f"SMTP {s.smtp_target[0]}:{s.smtp_target[1]}",
            "State": str(s.state_dir.resolve()),
        }
        return lines


def port_claims(settings: Settings, *, with_worker: bool = True) -> list[PortClaim]:
    claims: list[PortClaim] = []
    if settings.embedded_temporal:
        claims.append(PortClaim(settings.dev_temporal_port, "Temporal", "MENTORFLOW_DEV_TEMPORAL_PORT"))
        claims.append(PortClaim(settings.dev_ui_port, "Temporal UI", "MENTORFLOW_DEV_UI_PORT"))
    if settings.embedded_postgres:
        claims.append(PortClaim(settings.dev_postgres_port, "Postgres", "MENTORFLOW_DEV_POSTGRES_PORT"))
    if settings.embedded_smtp:
        claims.append(PortClaim(settings.smtp_target[1], "mail sink", "MENTORFLOW_SMTP_PORT"))
    if with_worker and settings.metrics_port:
        claims.append(PortClaim(settings.metrics_port, "worker metrics", "MENTORFLOW_METRICS_PORT"))
    if with_worker:
        claims.append(PortClaim(settings.web_port, "web app", "MENTORFLOW_WEB_PORT"))
    return claims


@asynccontextmanager
async def embedded_stack(settings: Settings, *, with_worker: bool = True) -> AsyncIterator[RunningStack]:
    """Start the embedded parts of the stack (those whose setting is unset); stop them all on exit."""
    ensure_ports_free(port_claims(settings, with_worker=with_worker))
    state = settings.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as exits:
        temporal = postgres = mail = None
        if settings.embedded_temporal:
            temporal = TemporalDevServer(
                state,
                port=settings.dev_temporal_port,
                ui_port=settings.dev_ui_port,
                namespace=settings.temporal_namespace,
            )
            exits.callback(temporal.stop)
            await temporal.start()
        if settings.embedded_postgres:
            postgres = EmbeddedPostgres(state / "postgres", port=settings.dev_postgres_port)
            exits.callback(postgres.stop)
            await postgres.start()
            await postgres.ensure_database(EMBEDDED_DATABASE)
        conn = await asyncpg.connect(settings.postgres_dsn)
        try:
            await migrate(conn, migrations_dir(settings))
        finally:
            await conn.close()
        if settings.embedded_smtp:
            host, port = settings.smtp_target
            mail = MailSink(settings.mail_dir.resolve(), host=host, port=port)
            exits.push_async_callback(mail.stop)
            await mail.start()
        yield RunningStack(settings, temporal, postgres, mail)
