"""Start the real app (``python app.py``) in a process of its own on a free loopback port, for end-to-end tests.

The process is forked from a Python that imported the app's libraries already, where its environment allows
(tests/warm_python.py says how that equals a fresh start, and when it falls back to one)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import warm_python
from warm_python import WarmProcess

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen[bytes] | WarmProcess
    log: Path

    @property
    def data_dir(self) -> Path:
        return self.log.parent

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=10).text

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_app(
    data_dir: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180.0,
    cwd: Path = REPO,
    ready: bool = True,
    log_name: str = "app.log",
    fresh: bool = False,
) -> RunningApp:
    """Start the app and wait until ``/health`` says ready (``ready=False``: until it answers at all, for apps
    whose model is meant to fail). ``fresh``: from a fresh interpreter, for a test of what importing prints."""
    port = free_port()
    log = data_dir / log_name
    data_dir.mkdir(parents=True, exist_ok=True)
    full_env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SENTIMENT_HOST": "127.0.0.1",
        "SENTIMENT_PORT": str(port),
        "SENTIMENT_DATA_DIR": str(data_dir),
        "GRADIO_TEMP_DIR": str(data_dir / "gradio"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    log.write_bytes(b"")
    process = warm_python.popen(["app.py"], cwd, full_env, log, fresh=fresh)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            status = httpx.get(f"{url}/health", timeout=2).status_code
            if status == 200 or (not ready and status == 503):
                return RunningApp(url, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"app not ready within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def call_api(url: str, api_name: str, *data: Any, timeout: float = 120.0) -> tuple[str, Any]:
    """One call over Gradio's REST protocol, as any HTTP client makes it: ``POST /gradio_api/call/<api_name>``
    returns an event id, ``GET .../<event_id>`` streams server-sent events until ``complete`` or ``error``.
    Returns that last event's name and its decoded data."""
    response = httpx.post(f"{url}/gradio_api/call/{api_name}", json={"data": list(data)}, timeout=timeout)
    response.raise_for_status()
    return read_events(url, api_name, response.json()["event_id"], timeout)


def read_events(url: str, api_name: str, event_id: str, timeout: float = 120.0) -> tuple[str, Any]:
    event, payload = "", None
    with httpx.stream("GET", f"{url}/gradio_api/call/{api_name}/{event_id}", timeout=timeout) as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in {"complete", "error"}:
                payload = json.loads(line.split(":", 1)[1])
                return event, payload
    return event, payload


def upload(url: str, path: Path) -> dict[str, Any]:
    """Upload a file the way the browser does; returns the file reference the API takes."""
    with path.open("rb") as handle:
        response = httpx.post(f"{url}/gradio_api/upload", files=[("files", (path.name, handle))], timeout=60)
    response.raise_for_status()
    return {"path": response.json()[0], "orig_name": path.name, "meta": {"_type": "gradio.FileData"}}


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels`` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total
