"""The SDK Runtime: one per process, exporting worker/client metrics for Prometheus when enabled."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from infra.settings import Settings


def metrics_runtime(settings: Settings, host: str | None = None) -> Runtime | None:
    """A Runtime serving /metrics on `settings.metrics_host:metrics_port`; None when the port is 0/unset."""
    if not settings.metrics_port:
        return None
    bind = f"{host or settings.metrics_host}:{settings.metrics_port}"
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=bind)))


def metrics_url(settings: Settings, host: str = "127.0.0.1") -> str | None:
    return f"http://{host}:{settings.metrics_port}/metrics" if settings.metrics_port else None
