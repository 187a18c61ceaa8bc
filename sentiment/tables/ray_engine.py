"""Score tables on a Ray cluster: Ray Data streams each file's chunks through a pool of actors that each load the
model once, and the driver writes them back in input order.

Only the model runs remotely. The rows are read and cleaned by ``prepared_chunks`` (the local engine's reader, run
in one Ray Data read task per file on the driver's node, where the files are) and written by ``write_scored`` (the
local engine's writer, on the driver), so both engines give the same bytes and the same summary. Memory stays
bounded: Ray Data executes the read -> score -> iterate pipeline as a stream with backpressure, one block per chunk,
and the driver holds a few chunks at a time.

Ray is an optional dependency (``requirements-scale.txt``): it is imported inside the functions here, so nothing
that merely imports ``sentiment`` needs it.

Without an address the engine starts a Ray instance of its own (``address="local"``): a bare ``ray.init()`` would
join whatever cluster already runs on the machine (another user's, a test suite's) and then refuse ``num_cpus``.
With one, it joins the cluster named, after checking that something answers there (Ray itself waits for minutes on
an address where nothing listens). Whatever the user can get wrong (Ray missing, an address that does not answer or
is not one, a cluster without CPUs) is an ``EngineError`` saying what to do.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from sentiment.errors import EngineError
from sentiment.results import BatchResult
from sentiment.tables.scoring import PreparedChunk, ProgressFn, Scorer, TablePlan, prepared_chunks, write_scored
from sentiment.tables.summary import ScoreSummary

logger = logging.getLogger(__name__)

ScorerFactory = Callable[[], Scorer]  # picklable; called once in each actor (e.g. loads the model)
CONNECT_TIMEOUT_S = 5.0  # to see whether anything answers at --address
_START_ONE = "or leave out --address to start a Ray instance on this machine"


@dataclass
class RayRun:
    """Where the chunks were scored: the id of the Ray node of every actor that scored at least one chunk."""

    nodes: set[str] = field(default_factory=set)
    chunks: int = 0


def _blocks(file: int, plan: TablePlan, chunk_rows: int) -> Iterator[Any]:
    """A read task's output: one Ray Data row per prepared chunk (pickled: rows are ragged lists of strings)."""
    import pyarrow as pa

    for chunk in prepared_chunks(plan, chunk_rows):
        yield pa.table({"file": pa.array([file], type=pa.int32()), "chunk": pa.array([pickle.dumps(chunk)])})


def _chunk_source(plans: Sequence[TablePlan], chunk_rows: int) -> Any:
    """A Ray Data datasource of one read task per file: each file is read in order, by the local engine's code."""
    from ray.data.block import BlockMetadata
    from ray.data.datasource import Datasource, ReadTask

    def task(file: int, plan: TablePlan) -> ReadTask:
        plan = replace(plan, path=plan.path.absolute())  # a worker's current folder is not the driver's
        metadata = BlockMetadata(num_rows=None, size_bytes=plan.size, exec_stats=None, input_files=(str(plan.path),))
        return ReadTask(lambda: _blocks(file, plan, chunk_rows), metadata)

    class ChunkSource(Datasource):
        @property
        def supports_distributed_reads(self) -> bool:
            return False  # Ray Data then runs the reads on the driver's node, where the files are

        def estimate_inmemory_data_size(self) -> int:
            return sum(plan.size for plan in plans)

        def get_read_tasks(self, parallelism: int, *args: Any, **kwargs: Any) -> list[ReadTask]:
            return [task(file, plan) for file, plan in enumerate(plans)]

    return ChunkSource()


class ChunkScorer:
    """A Ray Data actor: loads the model once, then scores the texts of each chunk it is given."""

    def __init__(self, make_scorer: ScorerFactory) -> None:
        import ray

        self._score = make_scorer()
        self._node = ray.get_runtime_context().get_node_id()

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        scored: list[bytes] = []
        for blob in batch["chunk"]:
            chunk: PreparedChunk = pickle.loads(blob)
            result = self._score(chunk.texts) if chunk.texts else None
            scored.append(pickle.dumps((chunk, result)))
        return {"file": batch["file"], "scored": scored, "node": [self._node] * len(scored)}


def require_ray() -> None:
    """Fail early, saying how to install it, when Ray is missing (it is an optional dependency)."""
    try:
        import ray  # noqa: F401
    except ImportError as exc:
        raise EngineError(
            "--engine ray needs Ray, which is not installed: pip install -r requirements-scale.txt"
        ) from exc


def check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise ``EngineError`` unless something accepts a connection at ``address`` (``HOST:PORT`` or
    ``ray://HOST:PORT``; ``auto`` is left to Ray, which answers at once when no cluster runs here)."""
    if address == "auto":
        return
    host, _, port = address.split("://", 1)[-1].rpartition(":")
    if not host or not port.isdigit():
        raise EngineError(
            f"--address {address!r} is not a Ray address: give the head node's HOST:PORT (printed by "
            f"`ray start --head`), ray://HOST:10001 or auto, {_START_ONE}"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise EngineError(
            f"no Ray cluster answers at {address} ({exc.strerror or exc}): start one there with `ray start --head`, "
            f"or give the address it prints, {_START_ONE}"
        ) from exc


def cluster_cpu_problem(resources: dict[str, float], actors: int) -> str | None:
    """Why a cluster with ``resources`` (``ray.cluster_resources()``) cannot run ``actors`` one-CPU model replicas,
    or ``None``. Fewer CPUs than actors is only logged: an autoscaling cluster adds nodes when asked."""
    cpus = resources.get("CPU", 0.0)
    if cpus < 1:
        return (
            "the Ray cluster has no CPUs to run the model on: start its nodes with CPUs "
            f"(`ray start ... --num-cpus N`), {_START_ONE}"
        )
    if cpus < actors:
        logger.warning(
            "the Ray cluster has %g CPUs for %d actors: some wait for a CPU (or for the autoscaler)", cpus, actors
        )
    return None


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Connect to the cluster at ``address`` (start a local instance of its own, of ``num_cpus`` CPUs, when ``None``
    or ``"local"``, even if another cluster runs on this machine) unless Ray is already initialised in this process
    (then use that, and leave it running). A remote cluster gets this checkout's ``sentiment`` package shipped to its
    workers; their Python must have the requirements installed. Raises ``EngineError`` for an address that does not
    answer or is not one."""
    require_ray()
    import ray

    # Ray Data warns that one read task cannot keep N actors busy; ours yields a block per chunk, and it does.
    warnings.filterwarnings("ignore", message="The minimum number of concurrent actors", category=UserWarning)
    if ray.is_initialized():
        yield
        return
    os.environ.setdefault("RAY_DISABLE_USAGE_STATS", "1")
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address in (None, "local"):
        ray.init(address="local", num_cpus=num_cpus, **options)
    else:
        import sentiment

        check_reachable(address)
        try:
            ray.init(address=address, runtime_env={"py_modules": [sentiment]}, **options)
        except (ConnectionError, ValueError) as exc:  # no cluster for "auto"; Ray Client not installed for ray://
            raise EngineError(f"cannot use the Ray cluster at {address}: {exc}") from exc
    try:
        yield
    finally:
        ray.shutdown()


def score_plans_on_ray(
    plans: Sequence[TablePlan],
    outputs: Sequence[Path],
    make_scorer: ScorerFactory,
    actors: int = 1,
    chunk_rows: int = 2000,
    progress: Callable[[TablePlan], ProgressFn | None] = lambda plan: None,
) -> tuple[list[ScoreSummary], RayRun]:
    """Score planned tables into ``outputs`` on the connected Ray cluster with ``actors`` model replicas (one CPU
    each) shared by all the files; returns a summary per file, in order."""
    import ray
    from ray.data import ActorPoolStrategy, DataContext

    if actors < 1:
        raise ValueError(f"actors must be at least 1, not {actors}")
    problem = cluster_cpu_problem(ray.cluster_resources(), actors)
    if problem is not None:
        raise EngineError(problem)
    context = DataContext.get_current()
    context.execution_options.preserve_order = True  # the output is in input order
    context.enable_progress_bars = False  # the writer reports progress itself
    # A block per chunk: by default Ray Data gathers a task's output into blocks of up to 128 MB, which would turn
    # a read into one block holding the whole file, scored by one actor. (Set on the driver's current context:
    # the dataset keeps a copy.)
    context.target_max_block_size = 1
    pool = ActorPoolStrategy(size=actors)
    source = _chunk_source(plans, chunk_rows)
    dataset = ray.data.read_datasource(source, num_cpus=0, override_num_blocks=len(plans))
    dataset = dataset.map_batches(
        ChunkScorer, fn_constructor_args=(make_scorer,), batch_size=1, compute=pool, num_cpus=1
    )
    run = RayRun()

    def scored() -> Iterator[tuple[int, tuple[PreparedChunk, BatchResult | None]]]:
        for row in dataset.iter_rows():
            run.nodes.add(row["node"])
            run.chunks += 1
            yield int(row["file"]), pickle.loads(row["scored"])

    summaries: list[ScoreSummary] = []
    started = time.perf_counter()
    for file, chunks in groupby(scored(), key=itemgetter(0)):
        while len(summaries) < file:  # a file with no data rows sends no chunk: its writer refuses it
            summaries.append(write_scored(plans[len(summaries)], outputs[len(summaries)], ()))
        plan = plans[file]
        summaries.append(write_scored(plan, outputs[file], (item for _, item in chunks), progress(plan)))
        # groupby reads a file's first chunk before its writer starts the clock: count from the previous file's end
        # (the first file's time includes starting the actors, which load the model; the local engine's does not)
        summaries[-1].seconds, started = time.perf_counter() - started, time.perf_counter()
    while len(summaries) < len(plans):
        summaries.append(write_scored(plans[len(summaries)], outputs[len(summaries)], ()))
    logger.info("scored %d file(s) on %d Ray node(s) in %d chunks", len(plans), len(run.nodes), run.chunks)
    return summaries, run
