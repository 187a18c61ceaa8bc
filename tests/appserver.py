"""Start the real app (``python app.py``) in a subprocess on a free loopback port, for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningApp:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def metrics(self) -> str:
        return httpx.get(f"{self.url}/metrics", timeout=10).text

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_app(
    data_dir: Path, env: dict[str, str] | None = None, timeout: float = 180.0, cwd: Path = REPO
) -> RunningApp:
    port = free_port()
    log = data_dir / "app.log"
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
    handle = log.open("wb")
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=cwd, env=full_env, stdout=handle, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return RunningApp(url, process, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"app not ready within {timeout:.0f} s:\n{log.read_text()[-4000:]}")


def metric_value(text: str, name: str, labels: dict[str, str] | None = None) -> float:
    """Sum of the samples called ``name`` whose labels include ``labels`` (0 when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in (labels or {}).items()):
                total += sample.value
    return total
