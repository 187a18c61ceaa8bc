"""The warm interpreter the end-to-end tests start the app and the README lines from (tests/warm_python.py) behaves as
a fresh ``python`` in everything those tests read: arguments, working folder, environment, import path, where the
project's modules come from, output, exit status, signals. If it did not, every test that starts an app would test
something other than ``python app.py``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import warm_python

from waiting import wait_until

pytestmark = pytest.mark.skipif(
    os.environ.get("SENTIMENT_TESTS_FRESH_PYTHON") == "1", reason="the run asks for fresh interpreters only"
)

# A script that reports what a program can see of the interpreter that runs it, then exits with a code of its own.
PROBE = """
import json, os, sys
import sentiment
report = {
    "argv": sys.argv, "cwd": os.getcwd(), "path0": sys.path[0], "name": __name__, "file": __file__,
    "sentiment": sentiment.__file__, "variable": os.environ.get("SENTIMENT_PROBE"),
    "numpy_draw": __import__("numpy").random.random(), "parent": os.getppid(),
}
print(json.dumps(report))
print("to stderr", file=sys.stderr)
sys.exit(int(sys.argv[1]))
"""


def _clone(tmp_path: Path) -> Path:
    """A folder whose ``sentiment`` package is a copy of the repository's: imports must resolve to it."""
    folder = tmp_path / "clone"
    folder.mkdir()
    (folder / "sentiment").symlink_to(warm_python.REPO / "sentiment", target_is_directory=True)
    (folder / "probe.py").write_text(PROBE)
    return folder


def _fresh(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_a_warm_start_reports_what_a_fresh_python_reports(tmp_path: Path) -> None:
    """Fails if a forked start sees other arguments, folder, environment, import path or module name than
    ``python probe.py 3`` run fresh in the same folder, imports the project from elsewhere than that folder, writes
    its output elsewhere, or exits with another code; and if two starts draw the same numpy numbers (a fork copies
    the generator's state)."""
    clone = _clone(tmp_path)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SENTIMENT_PROBE": "seen"}
    warm = [warm_python.run(["probe.py", "3"], clone, env, timeout=120) for _ in range(2)]
    fresh = _fresh(["probe.py", "3"], clone, env)

    reports = [json.loads(done.stdout) for done in (*warm, fresh)]
    parents = [report.pop("parent") for report in reports]
    assert parents[0] == parents[1] != parents[2] == os.getpid()  # two forks of the server, one fresh python
    draws = {report.pop("numpy_draw") for report in reports}
    assert reports[0] == reports[1] == reports[2]
    assert reports[0]["sentiment"] == str(clone / "sentiment" / "__init__.py")
    assert len(draws) == 3
    assert [done.returncode for done in (*warm, fresh)] == [3, 3, 3]
    assert warm[0].stderr == fresh.stderr == "to stderr\n"


def test_a_module_an_exception_and_a_message_exit_as_from_a_fresh_python(tmp_path: Path) -> None:
    """``python -m`` (a package's ``__main__``, its atexit handler seeing its arguments), an uncaught exception
    (status 1 after its traceback), ``SystemExit("message")`` (status 1, the message on stderr), an uncaught interrupt
    (ended by SIGINT) and a non-daemon thread (joined before the atexit handlers run) come out of a warm start as out
    of a fresh one."""
    clone = _clone(tmp_path)
    (clone / "fails.py").write_text("raise ValueError('the probe fails')\n")
    (clone / "says.py").write_text("raise SystemExit('invalid settings: the probe says no')\n")
    (clone / "interrupted.py").write_text("raise KeyboardInterrupt\n")
    (clone / "threads.py").write_text(
        "import atexit, sys, threading, time\n"
        "atexit.register(lambda: print('atexit after', threading.active_count(), 'thread(s)'))\n"
        "threading.Thread(target=lambda: (time.sleep(0.5), print('the worker thread finished'))).start()\n"
        "print(__import__('__main__').__file__ == __file__)\n"
    )
    (clone / "package").mkdir()
    (clone / "package" / "__main__.py").write_text("import sys, atexit\natexit.register(lambda: print(sys.argv))\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    lines = (
        ["-m", "sentiment", "predict", "--model", "vader", "what a day"],
        ["-m", "package", "an argument"],
        ["fails.py"],
        ["says.py"],
        ["interrupted.py"],
        ["threads.py"],
    )
    for argv in lines:
        warm, fresh = warm_python.run(argv, clone, env, timeout=120), _fresh(argv, clone, env)
        assert (warm.returncode, warm.stdout) == (fresh.returncode, fresh.stdout), argv
        assert warm.stderr.splitlines()[-1:] == fresh.stderr.splitlines()[-1:], argv
    assert fresh.stdout == "True\nthe worker thread finished\natexit after 1 thread(s)\n"  # threads.py, the last


def test_signals_reach_the_started_process_and_its_status_says_which(tmp_path: Path) -> None:
    """A start killed with SIGKILL reports -9, one sent SIGTERM -15 (as ``Popen.returncode`` does), and ``wait``
    with a timeout raises ``TimeoutExpired`` while it runs."""
    clone = _clone(tmp_path)
    (clone / "sleeps.py").write_text("import time\nprint('up', flush=True)\ntime.sleep(300)\n")
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    for sig in (signal.SIGKILL, signal.SIGTERM):
        out.write_text("")
        process = warm_python.popen(["sleeps.py"], clone, env, out)
        assert isinstance(process, warm_python.WarmProcess)  # forked, not a fresh interpreter
        wait_until(out.read_text, "the started script's own 'up'", accept=lambda text: "up" in text)
        assert process.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
        process.send_signal(sig)
        assert process.wait(timeout=60) == -sig


def test_an_environment_a_library_reads_at_import_runs_a_fresh_python(tmp_path: Path) -> None:
    """A variable the preloaded libraries read when imported (here Hugging Face's offline switch) cannot reach a
    forked start: such a start runs in a fresh interpreter, whose parent is this process, not the server."""
    clone = _clone(tmp_path)
    (clone / "parent.py").write_text("import os\nprint(os.getppid())\n")
    online = {**os.environ, "HF_HUB_OFFLINE": "0"}
    assert warm_python.differing_variables(online, {**os.environ, "HF_HUB_OFFLINE": "1"}) == ["HF_HUB_OFFLINE"]
    assert warm_python.differing_variables({"SENTIMENT_MODEL": "vader", "GRADIO_TEMP_DIR": "/x"}, {}) == []
    fresh = warm_python.run(["parent.py"], clone, online, timeout=120)
    warm = warm_python.run(["parent.py"], clone, {**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    assert int(fresh.stdout) == os.getpid()
    assert int(warm.stdout) != os.getpid()
