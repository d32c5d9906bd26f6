"""Start ``python app.py`` in a subprocess on a free loopback port, for benchmarks and end-to-end tests.

    with running_app(env={"SR_WEIGHTS_DIR": "..."}, log=Path("server.log")) as (proc, url):
        ...

Nothing here touches the network beyond 127.0.0.1. The server is always stopped on exit
(terminate, then kill after ``stop_timeout`` seconds).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    """Return once ``url`` answers 200; raise with the server's log if it exits or stays silent."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"app.py did not answer on {url} within {timeout} s:\n{log.read_text()[-3000:]}")


def start_app(log: Path, env: dict[str, str] | None = None, timeout: float = 180) -> tuple[subprocess.Popen, str]:
    """Start app.py with ``env`` added to this process's environment; return (process, URL) once it answers."""
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1",
                "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("SR_HUB_REPO", None)  # never reach the Hub from a benchmark or a test
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO_ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(url, proc, log, timeout)
    except BaseException:
        stop(proc)
        raise
    return proc, url


def stop(proc: subprocess.Popen, timeout: float = 15) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


@contextlib.contextmanager
def running_app(log: Path, env: dict[str, str] | None = None, timeout: float = 180):
    proc, url = start_app(log, env, timeout)
    try:
        yield proc, url
    finally:
        stop(proc)


def memory_kib(pid: int) -> dict[str, int]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process in KiB, from /proc (Linux); {} elsewhere."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except OSError:
        pass
    return out
