"""The one way mentorflow connects to Temporal: pydantic payloads, TLS/API key from settings."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from infra.settings import Settings, SettingsError


class TemporalUnreachableError(Exception):
    """Temporal did not answer; the message is one line naming the address."""


def tls_config(settings: Settings) -> TLSConfig | bool:
    cert, key = settings.temporal_tls_cert, settings.temporal_tls_key
    if (cert is None) != (key is None):
        raise SettingsError(
            "setting MENTORFLOW_TEMPORAL_TLS_CERT and MENTORFLOW_TEMPORAL_TLS_KEY: set both or neither"
        )
    if cert is not None and key is not None:
        for name, path in (("MENTORFLOW_TEMPORAL_TLS_CERT", cert), ("MENTORFLOW_TEMPORAL_TLS_KEY", key)):
            if not path.is_file():
                raise SettingsError(f"setting {name} ({str(path)!r}): file not found")
        return TLSConfig(client_cert=cert.read_bytes(), client_private_key=key.read_bytes())
    # Temporal Cloud with an API key needs TLS without a client certificate.
    return settings.temporal_api_key is not None


def _reason(text: str) -> str:
    # The SDK's connect errors are long Rust debug strings; keep the part a user acts on.
    lowered = text.lower()
    for needle, short in (
        ("connectionrefused", "connection refused"),
        ("connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("dns error", "host name not found"),
        ("certificate", "TLS certificate problem"),
        ("unauthenticated", "not authenticated (check MENTORFLOW_TEMPORAL_API_KEY or the TLS settings)"),
        ("permissiondenied", "permission denied"),
    ):
        if needle in lowered:
            return short
    first = text.splitlines()[0] if text else "unknown error"
    return first[:160]


async def connect(
    settings: Settings, *, runtime: Runtime | None = None, connect_timeout: timedelta = timedelta(seconds=10)
) -> Client:
    """Connect to the configured namespace; raise TemporalUnreachableError if it does not answer."""
    tls = tls_config(settings)
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    try:
        return await Client.connect(
            settings.temporal_target,
            namespace=settings.temporal_namespace,
            api_key=api_key,
            tls=tls,
            data_converter=pydantic_data_converter,
            runtime=runtime,
            connect_timeout=connect_timeout,
        )
    except RuntimeError as err:
        reason = _reason(str(err))
        raise TemporalUnreachableError(
            f"Temporal at {settings.temporal_target} (namespace {settings.temporal_namespace!r}) "
            f"is unreachable: {reason}; "
            "is `mentorflow dev up` running or MENTORFLOW_TEMPORAL_ADDRESS set?"
        ) from None
