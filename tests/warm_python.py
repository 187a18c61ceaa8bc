"""A Python that has imported the app's libraries already: ``python app.py`` and ``python -m ...`` for the tests,
started by forking it instead of a fresh interpreter.

Why: each start of the app paid ~14 s of CPU importing torch, transformers and Gradio before it ran a line of its own
(py-spy, December 2026: 14.6 of the 20 s an embedded-model app takes to start and stop), and the suite starts ~35 apps
and ~20 README lines on two cores. Forking a process that imported them once (what ``gunicorn --preload`` does) gives
each start a real process of its own: its own pid, port, environment, working folder, stdout and stderr files, signals
and exit status, which the tests kill, restart and read as before. What it shares is only what importing those
libraries built.

What makes a forked start equal to a fresh one, and where it falls back to a fresh one:

- The project's own modules (``app``, ``sentiment``, ``scheduler``, ``finetune``, the benchmarks) are imported by the
  server to learn what they need, then dropped from ``sys.modules``: each start imports them again from its working
  folder, so a README line run in a scratch clone runs the clone's code.
- Libraries read some environment variables once, when imported (Hugging Face's offline switch and cache folders,
  Gradio's settings, torch's thread counts). A start whose environment differs from the server's in any variable but
  ``RUNTIME_VARIABLES`` (read when used, never at import, by the preloaded libraries) runs as a fresh ``python``
  instead, and so does a start with ``SENTIMENT_TESTS_FRESH_PYTHON=1`` in the test run's environment.
- The child resets the signal handlers the server set, reseeds numpy's global generator (Python's ``random`` reseeds
  itself after a fork), runs ``atexit`` handlers on the way out as an interpreter does, and exits with the code a fresh
  interpreter would (an uncaught exception: 1, after its traceback; ``SystemExit``: its code or message).
- The server forks from one thread only (a fork copies only the calling thread; a lock another thread held would stay
  held in the child forever), and kills what it started when the test process that owns it goes away.

What differs, knowingly: a child shares the server's hash seed (set and dict orders of strings are the same in every
start, as with a fixed ``PYTHONHASHSEED``), and the libraries are imported before the child's environment is set, so
a test of import-time behaviour must run a fresh ``python`` (``subprocess`` directly, as
tests/integration/test_deploy.py and test_settings.py do).
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import importlib.machinery
import json
import os
import runpy
import select
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Read by the app (Settings), by Gradio when called (its upload folder, its analytics switch, the Space it runs on:
# utils.get_space; the hub's webhooks server reads SPACE_ID at import, and nothing the server imports imports it), by
# pytest, or by Ray (never imported by the server): never by a preloaded library at import. Three more are read at
# import but set in the test process by the code under test, and mean nothing or the same in a child:
# HF_HUB_DISABLE_TELEMETRY (the hub reads it only for telemetry, which the server's HF_HUB_OFFLINE=1 rules out; Gradio
# writes it into the environment of any process that builds a Blocks), HF_HUB_DISABLE_PROGRESS_BARS and
# TRANSFORMERS_VERBOSITY (the entry points' configure_logging sets both, and makes the same settings by call where the
# libraries are imported already: sentiment/logs.py).
RUNTIME_VARIABLES = (
    *("SENTIMENT_", "GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED", "SPACE_ID", "SYSTEM", "PYTEST_", "RAY_"),
    *("PWD", "OLDPWD", "_"),
    *("HF_HUB_DISABLE_TELEMETRY", "HF_HUB_DISABLE_PROGRESS_BARS", "TRANSFORMERS_VERBOSITY"),
)
# The server imports with these (as start_app runs the app): Gradio checks its analytics switch when called, but
# where it is on it may start threads a fork would not copy.
SERVER_DEFAULTS = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
# What the server imports: the app with every module it imports at start, the command line, and the transformer
# classes the embedded model's loader resolves lazily. peft and Ray are left out (a few starts use them; the others
# would carry them).
PRELOAD = """
import app
import sentiment.__main__
import transformers
from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer, BertForSequenceClassification
"""


def _is_runtime_variable(name: str) -> bool:
    return any(name == prefix or (prefix.endswith("_") and name.startswith(prefix)) for prefix in RUNTIME_VARIABLES)


def differing_variables(env: Mapping[str, str], server_env: Mapping[str, str]) -> list[str]:
    """Names whose value differs between ``env`` and the server's, less the runtime ones."""
    names = set(env) | set(server_env)
    return sorted(n for n in names if env.get(n) != server_env.get(n) and not _is_runtime_variable(n))


# ---------------------------------------------------------------------------------------------------------- server


def _preload() -> None:
    sys.path.insert(0, str(REPO))
    exec(compile(PRELOAD, "<preload>", "exec"), {})
    sys.path.remove(str(REPO))
    repo = str(REPO) + os.sep
    venv = str(REPO / ".venv") + os.sep
    for name, module in list(sys.modules.items()):
        where = getattr(module, "__file__", None) or next(iter(getattr(module, "__path__", []) or []), "")
        if where and where.startswith(repo) and not where.startswith(venv):
            del sys.modules[name]


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become ``python <argv>`` and never return."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        null = os.open(os.devnull, os.O_RDONLY)
        out = os.open(request["stdout"], os.O_WRONLY | os.O_APPEND)
        err = os.open(request["stderr"], os.O_WRONLY | os.O_APPEND) if request["stderr"] else out
        for fd, target in ((null, 0), (out, 1), (err, 2)):
            os.dup2(fd, target)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        argv = request["argv"]
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = request["cwd"]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(argv)  # the script as named; its __file__ absolute, as Python 3.9+ makes it
            script = os.path.abspath(argv[0])
            sys.path[0] = os.path.dirname(script)
            main = types.ModuleType("__main__")
            main.__dict__.update(__file__=script, __cached__=None, __builtins__=builtins)
            main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
            sys.modules["__main__"] = main
            source = Path(script).read_bytes()
            exec(compile(source, script, "exec", dont_inherit=True), main.__dict__)
        code = 0
    except SystemExit as exc:
        if exc.code is None:
            code = 0
        elif isinstance(exc.code, int):
            code = exc.code
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        try:
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def serve(address: str) -> None:
    """Import, then fork one child per request on ``address`` until stdin closes (the owner went away)."""
    _preload()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(address)
    listener.listen(64)
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_read, False)
    os.set_blocking(wake_write, False)
    signal.set_wakeup_fd(wake_write)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, "accept")
    selector.register(wake_read, selectors.EVENT_READ, "child")
    selector.register(sys.stdin, selectors.EVENT_READ, "owner")
    running: dict[int, socket.socket] = {}
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data == "accept":
                connection, _ = listener.accept()
                with connection.makefile("rb") as stream:
                    request = json.loads(stream.readline())
                sys.stdout.flush()
                sys.stderr.flush()
                pid = os.fork()
                if pid == 0:
                    signal.set_wakeup_fd(-1)
                    for held in (listener, connection, *running.values()):
                        held.close()
                    selector.close()
                    os.close(wake_read)
                    os.close(wake_write)
                    _child(request)
                connection.sendall(f"{pid}\n".encode())
                running[pid] = connection
            elif key.data == "child":
                try:
                    while os.read(wake_read, 512):
                        pass
                except BlockingIOError:
                    pass
                while running:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    connection = running.pop(pid, None)
                    if connection is not None:
                        with contextlib.suppress(OSError):
                            connection.sendall(f"exit {os.waitstatus_to_exitcode(status)}\n".encode())
                        connection.close()
            elif not sys.stdin.buffer.read1(1):  # the owner's end of the pipe closed
                for pid in running:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                return


# ---------------------------------------------------------------------------------------------------------- client


class WarmProcess:
    """What ``subprocess.Popen`` gives for a start the server forked: ``pid``, ``returncode``, ``poll``, ``wait``,
    ``send_signal``, ``terminate``, ``kill``."""

    def __init__(self, connection: socket.socket, args: Sequence[str]) -> None:
        self.args = list(args)
        self._connection = connection
        self._stream = connection.makefile("rb")
        self.pid = int(self._stream.readline())
        self.returncode: int | None = None

    def _collect(self, timeout: float | None) -> None:
        if self.returncode is not None:
            return
        ready, _, _ = select.select([self._connection], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        line = self._stream.readline()  # the exit line, whole: the server writes it in one call
        self.returncode = int(line.split()[1]) if line else -signal.SIGKILL  # no line: the server (and all) died
        self._stream.close()
        self._connection.close()

    def poll(self) -> int | None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._collect(0.0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._collect(timeout)
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class _Server:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="warm-python-")
        self.address = os.path.join(self.folder, "socket")
        self.env = {**os.environ, **SERVER_DEFAULTS}
        self.process = subprocess.Popen(
            [sys.executable, __file__, self.address],
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPO,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the warm interpreter did not start (exit {self.process.wait()})")

    def start(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: Path, stderr: Path | None) -> Any:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(self.address)
        request = {"argv": list(argv), "cwd": str(cwd), "env": dict(env), "stdout": str(stdout)}
        request["stderr"] = str(stderr) if stderr else ""
        connection.sendall(json.dumps(request).encode() + b"\n")
        return WarmProcess(connection, ["python", *argv])

    def close(self) -> None:
        """Close the server's stdin: it kills what it started and exits; then remove its socket's folder."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


_server: _Server | None = None
_lock = threading.Lock()


def _shared_server() -> _Server | None:
    """This test process's server, started on first use (~15 s); None when the run asks for fresh interpreters."""
    global _server
    if os.environ.get("SENTIMENT_TESTS_FRESH_PYTHON") == "1":
        return None
    with _lock:
        if _server is None or _server.process.poll() is not None:
            _server = _Server()
            atexit.register(_server.close)
        return _server


def popen(
    argv: Sequence[str], cwd: Path, env: Mapping[str, str], stdout: Path, stderr: Path | None = None
) -> subprocess.Popen[bytes] | WarmProcess:
    """Start ``python <argv>`` (``argv``: a script and its arguments, or ``-m``, a module and its arguments) in
    ``cwd`` with exactly ``env``, its output appended to ``stdout`` (and ``stderr``, or both in ``stdout``). Forked
    from the warm server where the environment allows (see the module's docstring), else a fresh interpreter."""
    for path in (stdout, stderr):
        if path is not None and not path.exists():
            path.touch()
    server = _shared_server()
    differing = differing_variables(env, server.env) if server else []
    if differing and os.environ.get("SENTIMENT_TESTS_WARM_LOG"):
        with open(os.environ["SENTIMENT_TESTS_WARM_LOG"], "a") as log:
            log.write(f"fresh {argv}: {differing}\n")
    if server is None or differing:
        out = stdout.open("ab")
        err = stderr.open("ab") if stderr else subprocess.STDOUT
        try:
            return subprocess.Popen([sys.executable, *argv], cwd=cwd, env=dict(env), stdout=out, stderr=err)
        finally:
            out.close()
            if stderr:
                err.close()  # type: ignore[union-attr]
    return server.start(argv, cwd, env, stdout, stderr)


def run(argv: Sequence[str], cwd: Path, env: Mapping[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """``subprocess.run([python, *argv], capture_output=True, text=True, timeout=timeout)``, started by ``popen``."""
    with tempfile.TemporaryDirectory(prefix="warm-run-") as folder:
        out, err = Path(folder) / "stdout", Path(folder) / "stderr"
        process = popen(argv, cwd, env, out, err)
        deadline = time.monotonic() + timeout
        try:
            returncode = process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(
            ["python", *argv],
            returncode,
            out.read_text(encoding="utf-8", errors="replace"),
            err.read_text(encoding="utf-8", errors="replace"),
        )


if __name__ == "__main__":
    serve(sys.argv[1])
