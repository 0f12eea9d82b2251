"""All of mentorflow's settings, read once from `MENTORFLOW_*` environment variables and an optional `.env`.

Unset means the embedded default: the stack `mentorflow dev up` runs on this machine.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta
from email.utils import formataddr, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError, field_validator, validate_email
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Fixed local ports for the embedded stack, so every command finds it without configuration.
EMBEDDED_TEMPORAL_PORT = 7233
EMBEDDED_UI_PORT = 8233
EMBEDDED_POSTGRES_PORT = 55432
EMBEDDED_SMTP_PORT = 8025
EMBEDDED_WEB_PORT = 8000
EMBEDDED_METRICS_PORT = 9464
EMBEDDED_DATABASE = "mentorflow"
# Only good for the embedded stack; production sets MENTORFLOW_LINK_SECRET.
EMBEDDED_LINK_SECRET = "mentorflow-dev-only-link-secret-change-me"
# Words the shipped examples use for "fill this in": a secret containing one was never filled in.
_PLACEHOLDER_MARKS = ("change-me", "changeme", "change_me", "replace-me", "your-secret", "example-secret")


def is_placeholder(value: str) -> bool:
    """A value copied from an example or the embedded default, never a real secret."""
    lowered = value.lower()
    return value == EMBEDDED_LINK_SECRET or any(mark in lowered for mark in _PLACEHOLDER_MARKS)


# ---- credentials never printed ---------------------------------------------------------------------

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
# password=..., ?password=..., api_key: ..., "token": "..." in URLs, DSNs, reprs and messages.
_SECRET_PARAM = re.compile(
    r"(?i)(?P<key>\b(?:password|passwd|pwd|secret|api[_-]?key|apikey|token)\b['\"]?\s*[=:]\s*['\"]?)"
    r"(?P<value>[^&\s'\",;)}]+)"
)
REDACTED = "***"


def redact_url(url: str) -> str:
    """A URL or DSN without its password (user:***@host) and without secret query parameters."""
    scheme, sep, rest = url.partition("://")
    if sep:
        creds, at, host = rest.rpartition("@")
        if at and ":" in creds:
            rest = f"{creds.split(':', 1)[0]}:{REDACTED}@{host}"
    return _SECRET_PARAM.sub(lambda m: m["key"] + REDACTED, f"{scheme}{sep}{rest}")


def redact_secrets(text: str, known: Iterable[str] = ()) -> str:
    """`text` with every credential form removed: URL passwords, `password=`/`api_key=`-style values, and
    each of the `known` secret values wherever it appears."""
    for secret in sorted((k for k in known if len(k) >= 4), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _URL.sub(lambda m: redact_url(m.group()), text)
    return _SECRET_PARAM.sub(lambda m: m["key"] + REDACTED, text)


class SettingsError(Exception):
    """A setting has a bad value; the message names the setting and the problem in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MENTORFLOW_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    state_dir: Path = Field(
        default=Path(".mentorflow"), description="Where the embedded stack keeps its data"
    )

    # Temporal. Address unset: the embedded dev server on this machine.
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    task_queue: str = "mentorflow"

    # Ports of the embedded stack (`mentorflow dev up`); set them to run a second stack beside the first.
    dev_temporal_port: int = Field(default=EMBEDDED_TEMPORAL_PORT, ge=1, le=65535)
    dev_ui_port: int = Field(default=EMBEDDED_UI_PORT, ge=1, le=65535)
    dev_postgres_port: int = Field(default=EMBEDDED_POSTGRES_PORT, ge=1, le=65535)
    # Unset: `migrations/` next to the installed packages.
    migrations_dir: Path | None = None

    # Worker tuning.
    max_concurrent_activities: int = Field(default=100, ge=1, le=10_000)
    max_concurrent_workflow_tasks: int = Field(default=100, ge=1, le=10_000)
    max_cached_workflows: int = Field(default=10_000, ge=0)
    # How long a workflow task waits for the worker that has the journey cached (`worker.main.tuning`).
    sticky_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    # 0: no Prometheus endpoint.
    metrics_port: int | None = Field(default=EMBEDDED_METRICS_PORT, ge=0, le=65535)
    # Interface the metrics endpoint binds to; 0.0.0.0 in containers so Prometheus and probes reach it.
    metrics_host: str = "127.0.0.1"
    db_pool_size: int = Field(default=10, ge=1, le=1000)

    # Postgres. Unset: the embedded server.
    database_url: str | None = None

    # Mail. Host unset: the embedded sink.
    smtp_host: str | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    # TLS: the name the relay's certificate must carry (unset: MENTORFLOW_SMTP_HOST; set it when the host
    # is an IP address) and a PEM file of the CAs to trust instead of the system's (a private CA).
    smtp_tls_server_name: str | None = None
    smtp_ca_file: Path | None = None
    # What EHLO names us. Unset: this machine's fully qualified name, refused outside the embedded stack
    # if that is localhost or has no dot (relays with reject_non_fqdn_helo_hostname refuse it).
    smtp_ehlo_name: str | None = None
    # auto: a non-ASCII address goes with SMTPUTF8 when the relay offers it (else that email fails);
    # off: never (the roster refuses such an address: domain.text.check_address, address_refusal).
    smtp_utf8: Literal["auto", "off"] = "auto"
    # Timeouts, RFC 5321 4.5.3.2 (connecting is ours: a relay that is down should be noticed quickly).
    smtp_connect_timeout_seconds: float = Field(default=30.0, gt=0)
    smtp_greeting_timeout_seconds: float = Field(default=300.0, gt=0)
    # MAIL FROM, and the other commands before it (EHLO, STARTTLS, AUTH, RSET).
    smtp_mail_timeout_seconds: float = Field(default=300.0, gt=0)
    smtp_rcpt_timeout_seconds: float = Field(default=300.0, gt=0)
    smtp_data_timeout_seconds: float = Field(default=120.0, gt=0)  # DATA until its 354
    smtp_data_block_timeout_seconds: float = Field(default=180.0, gt=0)  # each block of the message
    smtp_data_end_timeout_seconds: float = Field(default=600.0, gt=0)  # the reply to the final "."
    # "Name <address>" or a bare address.
    mail_from: str = "mentorflow@localhost.localdomain"
    # How long an email may keep meeting transient faults (4xx, relay unreachable) from its first attempt
    # before its ledger row is `failed` with the last reply: an MTA's queue lifetime ("3 days", "P3D").
    send_retry_budget: timedelta = Field(default=timedelta(days=3), gt=timedelta(0))

    # Participant links.
    # Unset: the web app on this machine (`web_host`:`web_port`), so moving the port moves the links.
    public_base_url: AnyHttpUrl | None = None
    # The embedded default skips validation; the same value set explicitly is refused as a placeholder.
    link_secret: SecretStr = Field(default=SecretStr(EMBEDDED_LINK_SECRET), validate_default=False)
    # Rotation: older secrets (comma-separated) that still verify links; new links use link_secret.
    link_secret_previous: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    web_host: str = "127.0.0.1"
    web_port: int = Field(default=EMBEDDED_WEB_PORT, ge=1, le=65535)

    log_format: Literal["auto", "console", "json"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql:// or postgres://")
        return v

    @field_validator("mail_from")
    @classmethod
    def _mailbox(cls, v: str) -> str:
        if "\r" in v or "\n" in v:
            raise ValueError("must be one line")
        name, address = parseaddr(v)
        if not address or "@" not in address:
            raise ValueError("must be an address, optionally with a name: Program <program@example.org>")
        _, address = validate_email(address)
        return formataddr((name, address)) if name else address

    @field_validator("smtp_ehlo_name", "smtp_tls_server_name")
    @classmethod
    def _host_name(cls, v: str | None) -> str | None:
        if v is not None and (not v or not v.isascii() or not v.isprintable() or " " in v or len(v) > 255):
            raise ValueError("must be a host name (or an address literal like [192.0.2.1] for EHLO)")
        return v

    @field_validator("smtp_ca_file")
    @classmethod
    def _readable_file(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_file():
            raise ValueError("no such file (a PEM file of CA certificates)")
        return v

    @field_validator("temporal_address")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None:
            return v
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port, e.g. my-ns.a1b2c.tmprl.cloud:7233")
        return v

    @field_validator("database_url")
    @classmethod
    def _no_placeholder_password(cls, v: str | None) -> str | None:
        if v is not None:
            parts = urlsplit(v)
            passwords = [parts.password or ""] + [
                value for key, value in parse_qsl(parts.query) if key == "password"
            ]
            if any(is_placeholder(p) for p in passwords if p):
                raise ValueError("the password is the example's placeholder; set the real one")
        return v

    @field_validator("link_secret")
    @classmethod
    def _secret_length(cls, v: SecretStr) -> SecretStr:
        return _real_secret(v)

    @field_validator("link_secret_previous", mode="before")
    @classmethod
    def _split_previous(cls, v: object) -> object:
        if isinstance(v, str):
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("link_secret_previous")
    @classmethod
    def _previous_real(cls, v: list[SecretStr]) -> list[SecretStr]:
        return [_real_secret(s) for s in v]

    @field_validator("smtp_password", "temporal_api_key")
    @classmethod
    def _not_placeholder(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and is_placeholder(v.get_secret_value()):
            raise ValueError("is the example's placeholder; set the real value")
        return v

    # Resolved values: what the embedded defaults mean when a setting is unset.
    @property
    def link_secrets(self) -> list[str]:
        """Secrets that verify links, the signing one first."""
        previous = [s.get_secret_value() for s in self.link_secret_previous]
        return [self.link_secret.get_secret_value(), *previous]

    @property
    def secret_values(self) -> list[str]:
        """Every credential these settings hold, to strip from messages and log lines."""
        values = [s.get_secret_value() for s in (self.smtp_password, self.temporal_api_key) if s is not None]
        if self.database_url:
            parts = urlsplit(self.database_url)
            values += [parts.password or ""]
            values += [v for k, v in parse_qsl(parts.query) if k.lower() in ("password", "sslpassword")]
        return [v for v in [*values, *self.link_secrets] if v]

    def require_link_secret(self, command: str) -> None:
        """A command that serves or signs links refuses the dev secret unless every component is embedded."""
        external = [
            name
            for name, embedded in (
                ("Temporal", self.embedded_temporal),
                ("Postgres", self.embedded_postgres),
                ("SMTP", self.embedded_smtp),
            )
            if not embedded
        ]
        if external and self.link_secret.get_secret_value() == EMBEDDED_LINK_SECRET:
            raise SettingsError(
                f"setting MENTORFLOW_LINK_SECRET is not set: `mentorflow {command}` signs or verifies "
                f"participant links and {', '.join(external)} is not the embedded stack, so the public "
                "development secret would let anyone forge links; set 32+ random characters"
            )

    @property
    def embedded_temporal(self) -> bool:
        return self.temporal_address is None

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.dev_temporal_port}"

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def postgres_dsn(self) -> str:
        return (
            self.database_url
            or f"postgresql://postgres@127.0.0.1:{self.dev_postgres_port}/{EMBEDDED_DATABASE}"
        )

    @property
    def embedded_smtp(self) -> bool:
        return self.smtp_host is None

    @property
    def smtp_target(self) -> tuple[str, int]:
        if self.smtp_host is None:
            return ("127.0.0.1", self.smtp_port or EMBEDDED_SMTP_PORT)
        default_port = {"none": 25, "starttls": 587, "tls": 465}[self.smtp_security]
        return (self.smtp_host, self.smtp_port or default_port)

    @property
    def mail_from_name(self) -> str:
        return parseaddr(self.mail_from)[0]

    @property
    def mail_from_address(self) -> str:
        return parseaddr(self.mail_from)[1]

    @property
    def mail_dir(self) -> Path:
        return self.state_dir / "mail"

    @property
    def base_url(self) -> str:
        if self.public_base_url is not None:
            return str(self.public_base_url).rstrip("/")
        host = "127.0.0.1" if self.web_host in ("0.0.0.0", "::", "") else self.web_host
        return f"http://{host}:{self.web_port}"


def _real_secret(v: SecretStr) -> SecretStr:
    value = v.get_secret_value()
    if len(value) < 16:
        raise ValueError("must be at least 16 characters")
    if is_placeholder(value):
        raise ValueError("is a placeholder (the example's or the development value); set a random secret")
    return v


_SECRET_FIELDS = {"link_secret", "link_secret_previous", "smtp_password", "temporal_api_key"}


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    loc = first["loc"][0] if first["loc"] else ""
    name = f"MENTORFLOW_{str(loc).upper()}" if loc else "settings"
    value = first.get("input")
    secret = str(loc) in _SECRET_FIELDS
    shown = "" if secret or isinstance(value, dict) or value is None else f" (got {value!r})"
    # A URL setting (the database's) is shown without its credentials.
    return redact_secrets(f"setting {name}{shown}: {first['msg']}")


def load_settings(**overrides: object) -> Settings:
    """Read settings; a bad value raises SettingsError naming the variable and the reason."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as err:
        raise SettingsError(_describe(err)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()


def address_refusal(settings: Settings, address: str) -> str | None:
    """Why the mailer could never send to `address` under these settings, None if it could: for the
    roster, CLI and web validation, so an address that validation accepts is one the mailer can send.
    (With MENTORFLOW_SMTP_UTF8=auto a non-ASCII local part is accepted: it goes if the relay offers
    SMTPUTF8, else that email fails with the reason.)"""
    if not address.rpartition("@")[0].isascii() and settings.smtp_utf8 == "off":
        return "an address with a non-ASCII local part needs SMTPUTF8, and MENTORFLOW_SMTP_UTF8=off"
    return None
