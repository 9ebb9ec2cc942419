"""Real ``leadgate serve`` processes for the multi-process tests (races, shared rate limits).

Each server is ``python -m leadgate serve --no-chat`` in its own process on a free port, on the same
database; the helpers wait for ``/healthz`` and stop the processes (by their own pid) afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
STARTUP_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now (127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(proc: subprocess.Popen[bytes], base: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {STARTUP_S} s: {log.read_text()[-3000:]}")


@contextmanager
def servers(
    db_url: str, tmp_path: Path, count: int = 2, env: Mapping[str, str] | None = None
) -> Iterator[list[str]]:
    """Start ``count`` leadgate servers on ``db_url``; yields their base URLs (``http://127.0.0.1:PORT``)."""
    procs: list[tuple[subprocess.Popen[bytes], object]] = []
    bases: list[str] = []
    full_env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "LEADGATE_DATABASE_URL": db_url,
        "LEADGATE_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    try:
        for n in range(count):
            port = free_port()
            log = tmp_path / f"server-{n}.log"
            out = open(log, "wb")  # noqa: SIM115 - closed below
            cmd = [sys.executable, "-m", "leadgate.cli", "serve", "--no-chat", "--port", str(port)]
            proc = subprocess.Popen(cmd, env=full_env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
            procs.append((proc, out))
            bases.append(f"http://127.0.0.1:{port}")
        for (proc, _), base, n in zip(procs, bases, range(count), strict=True):
            _wait_ready(proc, base, tmp_path / f"server-{n}.log")
        yield bases
    finally:
        for proc, _out in procs:
            proc.terminate()
        for proc, out in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            out.close()  # type: ignore[attr-defined]
