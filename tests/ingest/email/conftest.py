"""A real IMAP server for the tests: Dovecot (Debian ``dovecot-imapd``, installed by ``scripts/setup.sh``).

``dovecot`` starts ``/usr/sbin/dovecot -F -c <tmp>/dovecot.conf``: IMAP on 127.0.0.1 at a free port, no TLS,
one user in a ``passwd-file``, Maildir storage, run, state and log directories all in a fresh temporary
directory. It runs as the current user; under root (a CI container) Dovecot refuses to run its login and
mail processes as root, so they run as Debian's ``dovenull`` and ``dovecot`` users and the directory is
given to ``dovecot``. The fixture fails (never skips) when Dovecot is missing or does not start.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

DOVECOT = Path("/usr/sbin/dovecot")
USER = "leads@acme-sales.example"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Dovecot:
    """A running Dovecot: where it listens, its user and its log."""

    host: str
    port: int
    user: str
    password: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(port: int, proc: subprocess.Popen[bytes], log: Path, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                if s.recv(200).startswith(b"* OK"):
                    return
        except OSError:
            time.sleep(0.1)
    text = log.read_text(errors="replace") if log.exists() else "(no log)"
    stdout = log.with_name("stdout.log")
    if stdout.exists():
        text += "\n" + stdout.read_text(errors="replace")
    pytest.fail(f"Dovecot did not start on 127.0.0.1:{port} within {timeout:g} s; its log:\n{text}")


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    """A fresh Dovecot IMAP server with an empty INBOX for ``USER``; stopped after the test."""
    if not DOVECOT.exists():
        pytest.fail(
            f"{DOVECOT} is missing: install Debian's dovecot-imapd (scripts/setup.sh step 4: "
            "apt-get install -y dovecot-imapd); the IMAP tests need a real server"
        )
    root = Path(tempfile.mkdtemp(prefix="lg-dovecot-"))
    if os.geteuid() == 0:
        mail_user = pwd.getpwnam("dovecot")
        login_user, internal_user = "dovenull", "dovecot"
        uid, gid = mail_user.pw_uid, mail_user.pw_gid
        internal_group = "dovecot"
    else:
        me = pwd.getpwuid(os.geteuid())
        login_user = internal_user = me.pw_name
        uid, gid = me.pw_uid, me.pw_gid
        import grp

        internal_group = grp.getgrgid(gid).gr_name
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    port = _free_port()
    log = root / "dovecot.log"
    (root / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root / 'mail' / USER}\n")
    conf = root / "dovecot.conf"
    conf.write_text(
        f"""protocols = imap
listen = 127.0.0.1
base_dir = {root / "run"}
state_dir = {root / "state"}
log_path = {log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {uid}
first_valid_gid = {gid}
mail_location = maildir:{root / "mail"}/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root / "users"}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root / "users"}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
    )
    if os.geteuid() == 0:
        for path in [root, *root.rglob("*")]:
            os.chown(path, uid, gid)
    out = open(root / "stdout.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([str(DOVECOT), "-F", "-c", str(conf)], stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, proc, log)
        yield Dovecot("127.0.0.1", port, USER, PASSWORD, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        out.close()
        shutil.rmtree(root, ignore_errors=True)
