"""The reference deployment's load balancer (grafana/nginx/nginx.conf), run for real: Debian's nginx with the file
itself, its two compose host names pointed at two real app replicas on loopback.

Gradio's API takes two requests per call (POST /gradio_api/call/<name>, then GET the result by event id) and only the
replica that queued the event knows it (gradio-app/gradio#11431). Through the balancer every call completes; through
the same file without its ``hash`` line (nginx's round robin) calls fail, which shows the test can see the problem.
And the compose file itself, through the compose tool: refused without its passwords, accepted with them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from conftest import CACHE

from appserver import REPO, RunningApp, call_api, free_port, start_app
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

GRAFANA = REPO / "grafana"
CONF = GRAFANA / "nginx" / "nginx.conf"
STICKY = "hash $remote_addr consistent;"
CALLS = 8


def _nginx() -> str:
    binary = shutil.which("nginx")
    if binary is None:
        pytest.fail("nginx is not installed: 'make test' installs Debian's nginx package")
    return binary


def _local_conf(folder: Path, ports: tuple[int, int], listen: int, sticky: bool = True) -> Path:
    """The real file with only its addresses changed: the compose host names to loopback ports, its listening port
    and pid file to this test's own. Refuses a file whose addresses moved (the substitution must not be vacuous)."""
    text = CONF.read_text()
    for old in ("server app-1:7860 ", "server app-2:7860 ", "listen 7860;", "pid /tmp/nginx.pid;", STICKY):
        assert text.count(old) == 1, f"{old!r} is not in {CONF} exactly once"
    text = text.replace("server app-1:7860 ", f"server 127.0.0.1:{ports[0]} ")
    text = text.replace("server app-2:7860 ", f"server 127.0.0.1:{ports[1]} ")
    text = text.replace("listen 7860;", f"listen 127.0.0.1:{listen};")
    text = text.replace("pid /tmp/nginx.pid;", f"pid {folder / 'nginx.pid'};")
    if not sticky:
        text = text.replace(STICKY, "")
    path = folder / "nginx.conf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def replicas(running_app: RunningApp, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """Two real replicas: the session's app and one more, each with its own data folder. The second serves VADER
    (half the CPU of the embedded model's start): what is tested is where the balancer sends each call, which no
    answer's content depends on."""
    second = start_app(
        tmp_path_factory.mktemp("replica-2"),
        {"SENTIMENT_MODEL": "vader", "SENTIMENT_CACHE_DIR": str(CACHE), "SENTIMENT_SCHEDULER_ENABLED": "false"},
    )
    port = lambda app: int(app.url.rsplit(":", 1)[1])  # noqa: E731
    yield port(running_app), port(second)
    second.stop()


@contextmanager
def _serve(conf: Path) -> Iterator[str]:
    """Run nginx on ``conf`` for the ``with`` block; gives its address once it answers."""
    listen = int(re.search(r"listen 127\.0\.0\.1:(\d+);", conf.read_text()).group(1))  # type: ignore[union-attr]
    process = subprocess.Popen(
        [_nginx(), "-p", str(conf.parent), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{listen}"

    def answers() -> bool:
        try:
            return httpx.get(f"{url}/health", timeout=5).status_code == 200
        except httpx.HTTPError:
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            return False

    try:
        wait_until(answers, "nginx answers", 30)
        yield url
    finally:
        process.terminate()
        process.wait(10)


def test_nginx_accepts_the_balancer_configuration(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            _nginx(),
            "-t",
            "-p",
            str(tmp_path),
            "-c",
            str(_local_conf(tmp_path, (free_port(), free_port()), free_port())),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and "test is successful" in result.stderr, result.stderr


def test_every_two_step_gradio_call_completes_through_the_balancer_and_not_without_its_hash(
    replicas: tuple[int, int], tmp_path: Path
) -> None:
    """Sticky: all ``CALLS`` two-step calls complete, the inference API answers, and /metrics is not served (each
    replica is scraped itself). Round robin (the hash line removed): the GET goes to the replica that never saw the
    event, and calls fail."""
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    with _serve(_local_conf(sticky, replicas, free_port())) as url:
        outcomes = [call_api(url, "predict", f"a lovely day number {i}")[0] for i in range(CALLS)]
        assert outcomes == ["complete"] * CALLS
        answer = httpx.post(f"{url}/predict", json={"inputs": "so good"}, timeout=60)
        assert answer.status_code == 200 and answer.json()[0]["label"] == "positive"
        assert httpx.get(f"{url}/metrics", timeout=10).status_code == 404

    plain = tmp_path / "round-robin"
    plain.mkdir()
    with _serve(_local_conf(plain, replicas, free_port(), sticky=False)) as url:
        failed = 0
        for i in range(CALLS):
            try:
                failed += call_api(url, "predict", f"a lovely day number {i}", timeout=30)[0] != "complete"
            except httpx.HTTPError:
                failed += 1
        assert failed > 0


def test_the_compose_tool_refuses_the_stack_without_passwords_and_accepts_it_with_them(tmp_path: Path) -> None:
    """``docker-compose config`` (Debian's compose 1.29: it needs no engine) interpolates and validates the file:
    with the example .env (passwords empty) it stops naming the missing password; with both set it passes, and
    both replicas get the same PostgreSQL address. CI's docker job runs the current ``docker compose config``."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.fail("docker-compose is not installed: 'make test' installs Debian's docker-compose package")
    folder = tmp_path / "grafana"
    shutil.copytree(GRAFANA, folder, ignore=shutil.ignore_patterns("dashboards", "__pycache__"))
    env = folder / ".env"
    shutil.copy(folder / ".env.example", env)

    def config() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [binary, "-f", str(folder / "docker-compose.yml"), "config"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={"PATH": "/usr/bin:/bin"},
        )

    refused = config()
    assert refused.returncode != 0 and "set POSTGRES_PASSWORD in grafana/.env" in refused.stderr, refused.stderr
    env.write_text(
        env.read_text()
        .replace("POSTGRES_PASSWORD=\n", "POSTGRES_PASSWORD=pg-test-only\n")
        .replace("GRAFANA_ADMIN_PASSWORD=\n", "GRAFANA_ADMIN_PASSWORD=gf-test-only\n")
    )
    accepted = config()
    assert accepted.returncode == 0, accepted.stderr
    url = "postgresql+psycopg://sentiment:pg-test-only@postgres:5432/sentiment"
    assert accepted.stdout.count(f"SENTIMENT_DATABASE_URL: {url}") == 2
