"""structlog for mentorflow's own logs and for stdlib loggers (temporalio's workflow/activity loggers).

Console renderer on a terminal, JSON lines otherwise. temporalio puts workflow/activity context in
`extra` (`temporal_workflow` / `temporal_activity` dicts); `_extra_fields` lifts it into the event.
`workflow.logger` already drops records during replay, so nothing here needs to know about replay.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger
from temporalio import activity, workflow

from infra.settings import Settings, redact_secrets

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_RECORD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime", "taskName"}
)

# uvicorn repeats each message with ANSI colours in `extra`.
_NOISE = frozenset({"color_message"})


def _extra_fields(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    for key, value in vars(record).items():
        if key in _STANDARD_RECORD_ATTRS or key in _NOISE or key.startswith("_") or key in event_dict:
            continue
        if isinstance(value, dict) and key.startswith("temporal_"):
            # temporal_workflow={"workflow_id": ...} -> workflow_id=...
            for inner, inner_value in value.items():
                event_dict.setdefault(inner, inner_value)
        else:
            event_dict[key] = value
    return event_dict


def _redactor(settings: Settings) -> Processor:
    """Strip credentials from every text field of a log line (messages, errors, tracebacks)."""
    known = settings.secret_values

    def redact(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
        for key, value in event_dict.items():
            if isinstance(value, str):
                event_dict[key] = redact_secrets(value, known)
            elif isinstance(value, BaseException):
                event_dict[key] = redact_secrets(repr(value), known)
        return event_dict

    return redact


def _renderer(settings: Settings) -> Processor:
    fmt = settings.log_format
    if fmt == "auto":
        fmt = "console" if sys.stderr.isatty() else "json"
    if fmt == "console":
        return structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    return structlog.processors.JSONRenderer()


def configure_logging(settings: Settings) -> None:
    """Route structlog and stdlib logging to stderr through one formatter; idempotent."""
    level = getattr(logging, settings.log_level.upper())
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, _extra_fields],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redactor(settings),
            _renderer(settings),
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_mentorflow", False):
            root.removeHandler(old)
    handler._mentorflow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    # Context goes into fields (via `extra`), not appended to the message text as well.
    activity.logger.activity_info_on_message = False
    workflow.logger.workflow_info_on_message = False
    # Quiet chatty libraries unless debugging.
    for name in ("mail.log", "asyncio"):
        logging.getLogger(name).setLevel(max(level, logging.WARNING))


def get_logger(name: str | None = None, **initial: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger
