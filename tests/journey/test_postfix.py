"""A small cohort's welcome emails through Debian's Postfix, a real MTA, over STARTTLS.

The fixture runs a private Postfix instance (its own configuration, queue and port; DESIGN.md section 3):
STARTTLS with Debian's snakeoil certificate, SMTPUTF8 on, bare LF rejected, every recipient delivered to
the local user `sink`'s Maildir. It needs root and Debian's `postfix` and `ssl-cert` packages, which
`.ci/run` installs; without them the test fails saying so (it never skips). Other test sessions may run
their own instance at the same time: each finds its own emails in `~sink/Maildir/new` by Message-ID.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from email.header import decode_header, make_header
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from temporalio.testing import WorkflowEnvironment

from activities.launch import journey_input, start_journey
from domain.timing import start_of_local_day
from infra.program_files import load_program
from infra.settings import load_settings
from store.cohorts import ParticipantRecord, read_enrolees, save_cohort, save_participants
from worker.devstack import free_port
from worker.main import build_worker

PROGRAM = load_program(Path(__file__).resolve().parents[2] / "programs" / "medtwitter")
TZ = "Europe/Berlin"
SNAKEOIL_CERT = Path("/etc/ssl/certs/ssl-cert-snakeoil.pem")
SNAKEOIL_KEY = Path("/etc/ssl/private/ssl-cert-snakeoil.key")
SINK_USER = "sink"
INSTALL = "apt-get install -y postfix ssl-cert (.ci/run does)"

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


@dataclass(frozen=True)
class Postfix:
    port: int
    server_name: str  # the name the snakeoil certificate carries
    ca_file: Path
    maildir: Path
    log: Path


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)


def _certificate_name(cert: Path) -> str:
    decoded = ssl._ssl._test_decode_cert(str(cert))  # type: ignore[attr-defined]  # stdlib's own reader
    names = [value for kind, value in decoded.get("subjectAltName", ()) if kind == "DNS"]
    return str(names[0] if names else dict(pair[0] for pair in decoded["subject"])["commonName"])


def _ensure_sink_user() -> Path:
    try:
        return Path(pwd.getpwnam(SINK_USER).pw_dir)
    except KeyError:
        made = _run("useradd", "--create-home", "--shell", "/usr/sbin/nologin", SINK_USER)
        try:  # another session may have created it meanwhile
            return Path(pwd.getpwnam(SINK_USER).pw_dir)
        except KeyError:
            pytest.fail(f"cannot create the local user {SINK_USER!r}: {made.stderr.strip()}")


@pytest.fixture(scope="session")
def postfix() -> Iterator[Postfix]:
    """A private Postfix instance on a free port, stopped at the end of the session."""
    binary = shutil.which("postfix") or ("/usr/sbin/postfix" if Path("/usr/sbin/postfix").exists() else None)
    if binary is None:
        pytest.fail(f"Debian's postfix is not installed: {INSTALL}")
    if os.geteuid() != 0:
        pytest.fail("the Postfix test starts Postfix and needs root (as in CI)")
    if not SNAKEOIL_CERT.exists():
        made = _run("make-ssl-cert", "generate-default-snakeoil")
        if not SNAKEOIL_CERT.exists():
            pytest.fail(
                f"no snakeoil certificate and make-ssl-cert failed ({made.stderr.strip()}): {INSTALL}"
            )
    home = _ensure_sink_user()
    root = Path(tempfile.mkdtemp(prefix="mentorflow-postfix-"))
    root.chmod(0o755)  # Postfix's daemons run as the `postfix` user
    conf, queue, data = root / "conf", root / "queue", root / "data"
    for path in (conf, queue, data):
        path.mkdir()
    shutil.chown(data, user="postfix")
    port = free_port()
    hostname = socket.gethostname()
    (conf / "catchall.regexp").write_text(f"/.*/ {SINK_USER}@localhost\n")
    (conf / "master.cf").write_text(MASTER_CF.format(port=port))
    (conf / "main.cf").write_text(
        "\n".join(
            [
                "compatibility_level = 3.6",
                f"queue_directory = {queue}",
                f"data_directory = {data}",
                "mail_owner = postfix",
                "setgid_group = postdrop",
                f"myhostname = {hostname}",
                "mydestination = localhost",
                "inet_interfaces = 127.0.0.1",
                "inet_protocols = ipv4",
                "mynetworks = 127.0.0.0/8",
                "alias_maps =",
                "alias_database =",
                f"smtpd_tls_cert_file = {SNAKEOIL_CERT}",
                f"smtpd_tls_key_file = {SNAKEOIL_KEY}",
                "smtpd_tls_security_level = may",
                "smtpd_tls_received_header = yes",
                "smtputf8_enable = yes",
                "smtpd_forbid_bare_newline = reject",
                f"virtual_alias_maps = regexp:{conf / 'catchall.regexp'}",
                "home_mailbox = Maildir/",
                "default_transport = error",
                "relay_transport = error",
                f"maillog_file = {root / 'postfix.log'}",
                f"maillog_file_prefixes = {root}",
                "",
            ]
        )
    )
    for step in ("check", "start"):
        done = _run(binary, "-c", str(conf), step)
        if done.returncode != 0:
            log = (root / "postfix.log").read_text() if (root / "postfix.log").exists() else ""
            pytest.fail(f"postfix {step} failed: {done.stdout}{done.stderr}{log[-2000:]}")
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "postfix did not listen within 30 s"
                time.sleep(0.1)
        yield Postfix(
            port=port,
            server_name=_certificate_name(SNAKEOIL_CERT),
            ca_file=SNAKEOIL_CERT,
            maildir=home / "Maildir",
            log=root / "postfix.log",
        )
    finally:
        _run(binary, "-c", str(conf), "stop")
        shutil.rmtree(root, ignore_errors=True)


PARTICIPANTS = [
    ("p1", "Lea Vogel", "lea@example.org"),
    ("p2", "Zoë Ólafsdóttir-Nakamura, MD", "zoe@example.org"),
    ("p3", 'Dr. "Jo" O\'Brien-' + "Ng" * 300, "jo." + "x" * 50 + "@" + "sub." * 20 + "example.org"),
    ("p4", "José Núñez", "josé@example.org"),  # SMTPUTF8
]


async def test_a_cohort_through_postfix_over_starttls(
    postfix: Postfix, time_skipping_env: WorkflowEnvironment, database: str, tmp_path: Path
) -> None:
    env = time_skipping_env
    settings = load_settings(
        state_dir=tmp_path / "state",
        database_url=database,
        metrics_port=0,
        task_queue=f"postfix-{uuid.uuid4().hex[:8]}",
        smtp_host="127.0.0.1",
        smtp_port=postfix.port,
        smtp_security="starttls",
        smtp_tls_server_name=postfix.server_name,
        smtp_ca_file=postfix.ca_file,
        smtp_ehlo_name="worker.mentorflow.test",
        mail_from="Mentorship Program <program@example.net>",
    )
    pool = await asyncpg.create_pool(database, min_size=1, max_size=5)
    try:
        now = await env.get_current_time()
        today = now.astimezone(ZoneInfo(TZ)).date()
        start = today + timedelta(days=7 - today.weekday())  # next Monday: welcome on Tuesday
        cohort = f"c{uuid.uuid4().hex[:8]}"
        await save_cohort(pool, cohort, PROGRAM, start)
        await save_participants(
            pool,
            cohort,
            [
                ParticipantRecord(
                    participant_id=pid,
                    name=name,
                    email=address,
                    timezone=TZ,
                    send_days=["tue", "thu"],
                    send_time=clock(8, 30),
                    personas=["consumer"],
                )
                for pid, name, address in PARTICIPANTS
            ],
        )
        enrolees = await read_enrolees(pool, cohort)
        inputs = [journey_input(cohort, row, PROGRAM.spec, start) for row in enrolees]
        async with build_worker(env.client, pool, settings):
            for data in inputs:
                assert await start_journey(env.client, settings.task_queue, data)
            await env.sleep(_until(now, start + timedelta(days=2)))  # past Tuesday's welcome
            for data in inputs:
                await env.client.get_workflow_handle(data.enroll.journey_id).terminate("test done")
        ledger = await pool.fetch(
            """
            select l.*, p.name, p.email
            from send_ledger l join participants p using (cohort_id, participant_id)
            where l.cohort_id = $1
            """,
            cohort,
        )
    finally:
        await pool.close()
    assert sorted((r["participant_id"], r["kind"], r["status"]) for r in ledger) == [
        (pid, "welcome", "sent") for pid, _, _ in PARTICIPANTS
    ], [(r["participant_id"], r["status"], r["error"]) for r in ledger]

    delivered = await _delivered(postfix, {r["message_id"] for r in ledger})
    for row in ledger:
        [path] = delivered[row["message_id"]]  # one each
        raw = path.read_bytes()
        msg = email.message_from_string(raw.decode(), policy=email.policy.SMTPUTF8)
        assert not any(part.defects for part in msg.walk())
        for header in ("From", "To", "Subject"):
            defects = [type(d).__name__ for d in msg[header].defects]
            assert defects in ([], ["NonASCIILocalPartDefect"]), (header, defects)
        [to] = msg["To"].addresses
        assert to.addr_spec == row["email"]
        # RFC 2047 as written, decoded exactly; the stdlib's own reading agrees up to whitespace.
        phrase = dict(msg.raw_items())["To"].rpartition("<")[0].strip()
        if phrase.startswith("=?"):
            assert str(make_header(decode_header(phrase))) == row["name"]
        else:
            assert row["name"].isascii() and to.display_name == row["name"]
        assert "".join(to.display_name.split()) == "".join(row["name"].split())
        assert msg["Subject"] == row["subject"]
        assert msg["From"].addresses[0].display_name == "Mentorship Program"
        assert msg["Message-ID"] == row["message_id"]
        # Postfix notes the TLS it received the message over.
        assert "using TLS" in " ".join(msg.get_all("Received") or []), msg.get_all("Received")
        assert max(len(line) for line in raw.split(b"\n")) <= 1000
        path.unlink()


async def _delivered(postfix: Postfix, message_ids: set[str]) -> dict[str, list[Path]]:
    """The sink's delivered emails with these Message-IDs, once Postfix has delivered all of them."""
    found: dict[str, list[Path]] = {}
    deadline = time.monotonic() + 60
    while True:
        found = {}
        for path in (postfix.maildir / "new").glob("*") if (postfix.maildir / "new").exists() else []:
            with path.open("rb") as fh:
                headers = email.message_from_binary_file(fh, policy=email.policy.default)
            message_id = str(headers.get("Message-ID", "")).strip()
            if message_id in message_ids:
                found.setdefault(message_id, []).append(path)
        if set(found) == message_ids:
            return found
        if time.monotonic() > deadline:
            log = postfix.log.read_text()[-3000:] if postfix.log.exists() else ""
            pytest.fail(
                f"postfix delivered {len(found)} of {len(message_ids)} emails in 60 s; its log:\n{log}"
            )
        await asyncio.sleep(0.2)


def _until(now: datetime, day: date) -> timedelta:
    return start_of_local_day(day, TZ) - now
