"""Start-up time and resident memory of ``python app.py``, for this checkout and others, measured side by side.

Each round starts the app of every checkout in turn (interleaved, so a slow phase of the machine hits them alike)
with a fresh data folder, offline, and records: seconds until the port answers, seconds until ``/health`` says
ready (model loaded and warmed up), resident memory (VmRSS) at ready, and after ``--requests`` predictions over
HTTP. The table shows medians over the rounds and each checkout's ratio to the first.

    python benchmarks/startup.py [--against PATH ...] [--rounds 3] [--requests 200]

``--against`` takes another checkout of this repository (for instance ``git worktree add /tmp/before <commit>``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from app_latency import call

from appserver import free_port

ROOT = Path(__file__).resolve().parents[1]
TEXTS = ["I love this!", "this is awful", "it is a phone", "best day ever @user http://x.y", "meh. fine I guess"]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def measure(checkout: Path, requests: int, timeout: float = 300.0) -> dict[str, float]:
    """One start of ``checkout``'s app: times from the spawn, memory at ready and after ``requests`` predictions."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="startup-"))
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SENTIMENT_HOST": "127.0.0.1",
        "SENTIMENT_PORT": str(port),
        "SENTIMENT_DATA_DIR": str(data),
    }
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "app.py"], cwd=checkout, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    out: dict[str, float] = {}
    try:
        with httpx.Client(timeout=30) as client:
            while time.perf_counter() - started < timeout:
                if process.poll() is not None:
                    raise RuntimeError(f"{checkout}: app.py exited with {process.returncode}")
                try:
                    status = client.get(f"{url}/health").status_code
                except httpx.TransportError:
                    time.sleep(0.05)
                    continue
                out.setdefault("port_s", time.perf_counter() - started)
                if status == 200:
                    out["ready_s"] = time.perf_counter() - started
                    break
                time.sleep(0.05)
            else:
                raise RuntimeError(f"{checkout}: not ready after {timeout:.0f} s")
            out["rss_ready_mb"] = rss_mb(process.pid)
            for i in range(requests):
                call(client, url, TEXTS[i % len(TEXTS)])
            out["rss_served_mb"] = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
        shutil.rmtree(data, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, action="append", default=[], help="another checkout to compare")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=200, help="predictions before the second memory reading")
    args = parser.parse_args()
    checkouts = [ROOT, *(p.resolve() for p in args.against)]
    results: dict[Path, list[dict[str, float]]] = {c: [] for c in checkouts}
    for checkout in checkouts:  # a first start of each fills the merged-model cache and the OS file cache
        measure(checkout, 0)
    for _ in range(args.rounds):
        for checkout in checkouts:
            results[checkout].append(measure(checkout, args.requests))
    keys = ["port_s", "ready_s", "rss_ready_mb", "rss_served_mb"]
    print(f"median of {args.rounds} interleaved rounds (after one warm-up start each); ratio to the first row")
    print(f"{'checkout':40s}" + "".join(f"{k:>16s}" for k in keys))
    first = {k: statistics.median(r[k] for r in results[checkouts[0]]) for k in keys}
    for checkout in checkouts:
        medians = {k: statistics.median(r[k] for r in results[checkout]) for k in keys}
        cells = "".join(f"{medians[k]:9.2f} ({medians[k] / first[k]:4.2f})" for k in keys)
        print(f"{str(checkout)[-40:]:40s}{cells}")


if __name__ == "__main__":
    main()
