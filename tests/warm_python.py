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
  interpreter would (non-daemon threads joined first; an uncaught exception: 1, after ``sys.excepthook``; an
  interrupt: SIGINT; ``SystemExit``: its code or message).
- The server forks from one thread only (a fork copies only the calling thread; a lock another thread held would stay
  held in the child forever), and kills what it started when the test process that owns it goes away.

What differs, knowingly: a child shares the server's hash seed (set and dict orders of strings are the same in every
start, as with a fixed ``PYTHONHASHSEED``); what the libraries print or warn while imported is printed once, by the
server, not in each start's output; and the libraries are imported before the child's environment is set. A test of
import-time behaviour (a clean start's output, say) asks for a fresh ``python`` (``start_app(..., fresh=True)``, or
``subprocess`` directly, as tests/integration/test_deploy.py and test_settings.py do).
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
import types
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# Read when used, never at import by what the server imports: the app's own settings (SENTIMENT_*), Gradio's upload
# folder and analytics switch and the Space it runs on (utils.get_space), pytest's, Ray's (Ray is not preloaded).
# GRADIO_TEMP_DIR is also read at import, by Gradio's video, MCP and "vibe edit" routes and gradio_client's downloads,
# none of which the app serves; the hub's webhooks server reads SPACE_ID at import and is not imported.
RUNTIME_VARIABLES = (
    *("SENTIMENT_", "GRADIO_TEMP_DIR", "GRADIO_ANALYTICS_ENABLED", "SPACE_ID", "SYSTEM", "PYTEST_", "RAY_"),
    *("PWD", "OLDPWD", "_", "HF_HUB_DISABLE_TELEMETRY"),
)
# Read at import, but set by the code under test in the test process (so a test process's environment has them after
# its first in-process app), and equal in a child at these values only: HF_HUB_DISABLE_TELEMETRY (above) the hub reads
# only for telemetry, which the server's HF_HUB_OFFLINE=1 rules out (Gradio writes it into the environment of any
# process that builds a Blocks); the two below are what the entry points' configure_logging sets, which makes the
# same settings by call where the libraries are imported already (sentiment/logs.py).
RUNTIME_VALUES = {"HF_HUB_DISABLE_PROGRESS_BARS": {None, "1"}, "TRANSFORMERS_VERBOSITY": {None, "error"}}
# Native threads whose library makes a fork safe (pthread_atfork: jemalloc stops its background thread's work and
# holds its locks across the fork).
FORK_AWARE_THREADS = {"jemalloc_bg_thd"}
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
    return sorted(
        n
        for n in names
        if env.get(n) != server_env.get(n)
        and not _is_runtime_variable(n)
        and not {env.get(n), server_env.get(n)} <= RUNTIME_VALUES.get(n, set())
    )


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
    interrupted = False
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for path, target in ((os.devnull, 0), (request["stdout"], 1), (request["stderr"] or request["stdout"], 2)):
            fd = os.open(path, os.O_RDONLY if target == 0 else os.O_WRONLY | os.O_APPEND)
            os.dup2(fd, target)
            os.close(fd)
        if "numpy" in sys.modules:
            sys.modules["numpy"].random.seed()
        argv = request["argv"]
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        if argv[0] == "-m":  # what ``python -m`` runs: runpy's own entry, on a fresh __main__
            sys.argv = [argv[1], *argv[2:]]
            sys.path[0] = request["cwd"]
            runpy._run_module_as_main(argv[1], alter_argv=True)  # type: ignore[attr-defined]
        else:
            sys.argv = list(argv)  # the script as named; __file__ absolute (Python 3.9+), sys.path[0] its real folder
            script = os.path.abspath(argv[0])
            sys.path[0] = os.path.dirname(os.path.realpath(script))
            main.__dict__.update(__file__=script, __cached__=None)
            main.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
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
    except BaseException as exc:  # as the interpreter reports it; an interrupt ends by SIGINT, as it does
        sys.excepthook(type(exc), exc, exc.__traceback__)
        interrupted = isinstance(exc, KeyboardInterrupt)
        code = 1
    finally:
        try:
            threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, before atexit
            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
            if interrupted:
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.kill(os.getpid(), signal.SIGINT)
        finally:
            os._exit(code)


def serve(address: str) -> None:
    """Import, then fork one child per request on ``address`` until stdin closes (the owner went away). Answers each
    request with the child's pid, then ``exit <status>`` when it ends (or ``error <why>`` if it could not start)."""
    _preload()
    # A fork copies the calling thread only: a lock another thread held would stay held in the child. Python threads
    # (logging's and the import system's locks) rule a fork out; native ones only where their library takes its
    # locks across a fork, as jemalloc (which pyarrow brings) does for its background thread. With OMP_NUM_THREADS
    # unset, numpy's OpenBLAS starts a pool too, named like the main thread: that falls back to fresh interpreters.
    tasks = [Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task")]
    others = sorted(name for name in tasks if name not in FORK_AWARE_THREADS)[1:]  # less the main thread
    if threading.active_count() != 1 or others:
        print(f"not forking: importing the libraries left threads running: {others}", flush=True)
        return
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
    try:
        while True:
            for key, _ in selector.select():
                if key.data == "accept":
                    connection, _ = listener.accept()
                    try:
                        with connection.makefile("rb") as stream:
                            request = json.loads(stream.readline())
                        sys.stdout.flush()
                        sys.stderr.flush()
                        pid = os.fork()
                    except Exception as exc:  # a bad request or a failed fork: that start fails, the server goes on
                        with contextlib.suppress(OSError):
                            connection.sendall(f"error {type(exc).__name__}: {exc}\n".encode())
                        connection.close()
                        continue
                    if pid == 0:
                        signal.set_wakeup_fd(-1)
                        for held in (listener, connection, *running.values()):
                            held.close()
                        selector.close()
                        os.close(wake_read)
                        os.close(wake_write)
                        _child(request)
                    running[pid] = connection
                    try:
                        connection.sendall(f"{pid}\n".encode())
                    except OSError:  # whoever asked is gone: nobody could stop what it started
                        os.kill(pid, signal.SIGKILL)
                elif key.data == "child":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(wake_read, 512):
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
                    return
    finally:  # however the server ends, nothing it started outlives it, nor its socket's folder
        for pid in running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(os.path.dirname(address), ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------- client


class WarmProcess:
    """What ``subprocess.Popen`` gives for a start the server forked: ``pid``, ``returncode``, ``poll``, ``wait``,
    ``send_signal``, ``terminate``, ``kill``."""

    def __init__(self, connection: socket.socket, args: Sequence[str]) -> None:
        self.args = list(args)
        self._connection = connection
        self._stream = connection.makefile("rb")
        first = self._stream.readline().decode()
        if not first[:1].isdigit():
            connection.close()
            raise RuntimeError(f"the warm interpreter could not start python {' '.join(args)}: {first.strip()}")
        self.pid = int(first)
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
        said, fd = b"", self.process.stdout.fileno()
        deadline = time.monotonic() + 300  # the imports take ~15 s of CPU; a loaded machine, several times that
        while time.monotonic() < deadline and b"ready\n" not in said:
            if select.select([fd], [], [], 5)[0]:
                chunk = os.read(fd, 4096)
                if not chunk:  # it exited
                    break
                said += chunk
        if said.endswith(b"ready\n"):
            return
        self.process.kill()
        self.process.wait()
        raise RuntimeError(f"the warm interpreter did not start: {said.decode(errors='replace')[-2000:]}")

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
            try:
                _server = _Server()
            except RuntimeError as exc:  # every start runs a fresh interpreter: slower, never different
                warnings.warn(f"{exc}; starting fresh interpreters instead", stacklevel=2)
                os.environ["SENTIMENT_TESTS_FRESH_PYTHON"] = "1"
                return None
            atexit.register(_server.close)
        return _server


def popen(
    argv: Sequence[str],
    cwd: Path,
    env: Mapping[str, str],
    stdout: Path,
    stderr: Path | None = None,
    fresh: bool = False,
) -> subprocess.Popen[bytes] | WarmProcess:
    """Start ``python <argv>`` (``argv``: a script and its arguments, or ``-m``, a module and its arguments) in
    ``cwd`` with exactly ``env``, its output appended to ``stdout`` (and ``stderr``, or both in ``stdout``). Forked
    from the warm server where the environment allows (see the module's docstring), else (and with ``fresh``) a fresh
    interpreter."""
    for path in (stdout, stderr):
        if path is not None and not path.exists():
            path.touch()
    server = None if fresh else _shared_server()
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
