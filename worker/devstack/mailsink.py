"""A local SMTP sink (aiosmtpd) that stores every message as `<mail_dir>/<timestamp>-<message-id>.eml`."""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def message_filename(content: bytes, now: datetime) -> str:
    headers = BytesHeaderParser(policy=default_policy).parsebytes(content)
    message_id = str(headers.get("Message-ID", "") or "no-message-id")
    slug = _SLUG.sub("-", message_id.strip("<> \t")).strip("-")[:120] or "no-message-id"
    return f"{now.strftime('%Y%m%dT%H%M%S.%fZ')}-{slug}.eml"


class _StoreHandler:
    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content: bytes = envelope.original_content or envelope.content
        await asyncio.to_thread(self._store, content)
        return "250 Message accepted for delivery"

    def _store(self, content: bytes) -> Path:
        target = self.mail_dir / message_filename(content, datetime.now(UTC))
        # Write then rename: a reader never sees a half-written .eml.
        fd, tmp = tempfile.mkstemp(dir=self.mail_dir, prefix=".incoming-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(content)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target


class MailSink:
    """Runs on the caller's event loop; `start()` binds, `stop()` closes."""

    def __init__(self, mail_dir: Path, *, host: str = "127.0.0.1", port: int) -> None:
        self.mail_dir = mail_dir
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self.mail_dir.mkdir(parents=True, exist_ok=True)
        handler = _StoreHandler(self.mail_dir)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(handler, hostname="mentorflow-mail-sink", enable_SMTPUTF8=True),
            host=self.host,
            port=self.port,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def messages(self) -> list[Path]:
        return sorted(self.mail_dir.glob("*.eml"))
