"""The Ray engine on a real two-node Ray cluster on loopback: the same bytes and the same summary as the local engine.

One cluster per module (a head and a worker node, one CPU each, so two one-CPU actors must land on different
nodes), started by ``ray.cluster_utils.Cluster`` and shut down by the fixture. Ray start-up is slow on two shared
cores (half a minute of CPU): these tests are marked slow, and the README's two Ray lines run here, on this cluster,
rather than in tests/integration/test_readme.py with a cluster of their own.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from readme import run_readme_line

from sentiment.inference.predictor import Predictor
from sentiment.service.batch_jobs import PredictorScorer, score_inputs
from sentiment.settings import Settings
from sentiment.tables.scoring import plan_table, score_file

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

OBJECT_STORE_BYTES = 200 * 1024**2  # the smallest Ray accepts comfortably; plenty for chunks of 500 rows


@pytest.fixture(scope="module")
def two_nodes() -> Iterator[list[str]]:
    """A Ray cluster of two nodes on this machine; yields their node ids."""
    from ray.cluster_utils import Cluster

    os.environ["RAY_DISABLE_USAGE_STATS"] = "1"
    node = {"num_cpus": 1, "object_store_memory": OBJECT_STORE_BYTES, "include_dashboard": False}
    cluster = Cluster(initialize_head=True, head_node_args=node)
    try:
        cluster.add_node(**node)
        cluster.wait_for_nodes(timeout=120)
        ray.init(address=cluster.address, log_to_driver=False)
        yield [n["NodeID"] for n in ray.nodes() if n["Alive"]]
    finally:
        ray.shutdown()
        cluster.shutdown()


def awkward_table(rows: int, seed: int = 0) -> bytes:
    """``id,text,note`` rows as exports really come: quoted newlines and separators, empty and blank texts, cells a
    spreadsheet would run as formulas, Latin-1 rows among UTF-8 ones, NULs, rows with too many and too few fields."""
    rng = random.Random(seed)
    words = ["great", "awful", "service", "love", "hate", "the", "café", "naïve", "price", "ok", "never", "again"]
    out = [b"id,text,note\n"]
    for i in range(rows):
        text = " ".join(rng.choices(words, k=rng.randint(1, 12)))
        kind = rng.randrange(10)
        if kind == 0:
            line = f'{i},"{text},\nsecond line ""quoted""",n\n'.encode()
        elif kind == 1:
            line = f"{i},{rng.choice(['', '   '])},empty\n".encode()
        elif kind == 2:
            line = f"{i},{rng.choice(['=SUM(A1:A2)', '+1+1', '@cmd', '-2+3'])} {text},formula\n".encode()
        elif kind == 3:
            line = f"{i},{text} crème brûlée,latin\n".encode("latin-1")
        elif kind == 4:
            line = f"{i},{text}, unquoted comma,ragged\n".encode()
        elif kind == 5:
            line = f"{i},{text}\n".encode()  # a field short
        elif kind == 6:
            line = f"{i},{text}\x00,nul\n".encode()
        else:
            line = f"{i},{text},plain\n".encode()
        out.append(line)
    return b"".join(out)


@pytest.fixture(scope="module")
def awkward_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ray") / "awkward.csv"
    path.write_bytes(awkward_table(20_000))
    return path


def _comparable(summary: object) -> dict[str, object]:
    described = summary.as_dict()  # type: ignore[attr-defined]
    described.pop("seconds")
    return described


def test_two_nodes_score_a_20000_row_file_exactly_as_the_local_engine(
    two_nodes: list[str], awkward_file: Path, tiny_model_dir: Path, session_settings: Settings, tmp_path: Path
) -> None:
    """Fails if the Ray engine drops, repeats or reorders a row, reads or cleans a row differently, counts the
    summary differently, or if the actors did not really run on both nodes."""
    from sentiment.tables.ray_engine import score_plans_on_ray

    assert len(two_nodes) == 2
    local_out, ray_out = tmp_path / "local.csv", tmp_path / "ray.csv"
    predictor = Predictor.load(str(tiny_model_dir), session_settings)
    local = score_file(awkward_file, local_out, predictor.predict_batch, chunk_rows=500)
    plan = plan_table(awkward_file)
    scorer = PredictorScorer(str(tiny_model_dir), session_settings)
    [remote], run = score_plans_on_ray([plan], [ray_out], scorer, actors=2, chunk_rows=500)

    assert local.rows == 20_000 and local.skipped and local.cleaned and local.input_format["encoding"] != "utf-8"
    assert ray_out.read_bytes() == local_out.read_bytes()
    assert _comparable(remote) == _comparable(local)
    assert run.chunks == 40 and run.nodes == set(two_nodes)


def test_a_folder_of_inputs_becomes_a_folder_of_the_same_shards_on_either_engine(
    two_nodes: list[str],
    tiny_model_dir: Path,
    session_settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``score_inputs`` (what the CLI runs) with a folder named relative to the current folder, which Ray's workers
    do not share: one scored copy per input, named for its layout, equal across engines. Uses the running cluster
    (the engine connects only when Ray is not initialised)."""
    monkeypatch.chdir(tmp_path)
    inputs = Path("in")
    inputs.mkdir()
    (inputs / "a.csv").write_bytes(awkward_table(700, seed=1))
    (inputs / "b.txt").write_text("what a great day\n\nworst service ever\n=1+1\n", encoding="latin-1")
    (inputs / "c.tsv").write_bytes("id\ttext\n1\tcafé\n2\tawful\n".encode("latin-1"))
    (inputs / "notes.md").write_text("not an input")
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"text": ["love it", None, "@cmd awful"], "n": [1, 2, None]}), inputs / "d.parquet")
    _exports(inputs)
    spec = str(tiny_model_dir)
    local = score_inputs("in", Path("local"), spec, session_settings, engine="local", progress=False)
    remote = score_inputs("in", Path("ray"), spec, session_settings, engine="ray", actors=2)

    names = ["a_scored.csv", "b_scored.csv", "c_scored.tsv", "d_scored.csv"]
    names += ["x_excel_scored.csv", "x_sep_scored.csv", "x_twice_scored.csv"]
    assert [p.name for p, _ in local.outputs] == names
    assert [p.name for p, _ in remote.outputs] == names
    for (local_path, local_summary), (ray_path, ray_summary) in zip(local.outputs, remote.outputs, strict=True):
        assert ray_path.read_bytes() == local_path.read_bytes()
        assert _comparable(ray_summary) == _comparable(local_summary)
    # issue #25 items 4, 5 and 7 on the Ray engine: empty and header-only files listed as skipped, Excel's cp1252
    # export read as cp1252, the ``sep=;`` line honoured
    skipped = {Path(p).name: reason for p, reason in remote.skipped.items()}
    assert skipped == {
        "x_empty.csv": "x_empty.csv is empty",
        "x_header.csv": "x_header.csv has a header but no data rows",
    }
    assert {Path(p).name: reason for p, reason in local.skipped.items()} == skipped
    summaries = {p.name: summary.as_dict() for p, summary in remote.outputs}
    assert summaries["x_excel_scored.csv"]["input_format"]["encoding"] == "cp1252"
    assert summaries["x_excel_scored.csv"]["scored"] == 3
    assert "Don’t buy – it’s “junk”" in Path("ray/x_excel_scored.csv").read_text(encoding="utf-8")
    assert summaries["x_sep_scored.csv"]["input_format"]["delimiter"] == ";"


def _exports(folder: Path) -> None:
    """The files of issue #25 items 4, 5 and 7, added to ``folder``: an empty file, a header-only file, Excel's cp1252
    export, Excel's ``sep=;`` line, and a header of ``text,text``."""
    (folder / "x_empty.csv").write_bytes(b"")
    (folder / "x_header.csv").write_text("id,text\n")
    reviews = ["“Great” – worth every €", "It’s the “best” phone I’ve owned", "Don’t buy – it’s “junk”"]
    cp1252 = "id,text\r\n" + "".join(f"{i},{t}\r\n" for i, t in enumerate(reviews, 1))
    (folder / "x_excel.csv").write_bytes(cp1252.encode("cp1252"))
    (folder / "x_sep.csv").write_text("sep=;\r\nid;text;rating\r\n1;great, really;5\r\n2;awful, never again;1\r\n")
    (folder / "x_twice.csv").write_text("text,text\ngreat,awful\nfine,bad\n")


# The README's two Ray lines, run here as written: each needs a running cluster, and this module has one.
OWN_RAY_LINE = "python -m sentiment score examples/reviews.csv reviews_scored.csv --engine ray --actors 2"
ADDRESS_LINE = "python -m sentiment score 'examples/*.csv' scored/ --engine ray --address HEAD:6379 --actors 8"


def test_the_readme_line_starts_its_own_ray_while_another_cluster_runs_and_scores_as_the_local_engine(
    two_nodes: list[str], session_settings: Settings, tmp_path: Path
) -> None:
    """Issue #25 item 8: with another Ray cluster up on the machine (this module's two nodes, whose address Ray
    records for a bare ``ray.init()`` to find), the README's ``python -m sentiment score ... --engine ray --actors 2``
    failed: "internal error (ValueError: When connecting to an existing cluster, num_cpus and num_gpus must not be
    provided.)". Run as a reader runs it (a child process, from a clone), it now starts a Ray instance of its own and
    writes exactly the local engine's bytes. (The files of items 4, 5 and 7 on the Ray engine: the folder test.)"""
    from ray._private.services import get_ray_address_from_environment

    assert get_ray_address_from_environment("auto", None) is not None  # a bare ray.init() would join a cluster
    clone, _ = run_readme_line(OWN_RAY_LINE, [], tmp_path)
    local = score_inputs(
        str(clone / "examples" / "reviews.csv"), tmp_path / "local.csv", "embedded", session_settings, progress=False
    )
    [(_, summary)] = local.outputs
    assert summary.scored == 12
    assert (clone / "reviews_scored.csv").read_bytes() == (tmp_path / "local.csv").read_bytes()


def test_the_readme_line_joins_a_running_cluster_by_its_address(
    two_nodes: list[str], session_settings: Settings, tmp_path: Path
) -> None:
    """The README's ``--address HEAD:6379`` line, with this module's cluster standing for the reader's (one actor:
    each loads the model in a process of its own; that actors spread over the nodes is the 20,000-row test's to
    prove): every example file scored into ``scored/``, each exactly as the local engine scores it."""
    address = ray.get_runtime_context().gcs_address
    clone, _ = run_readme_line(ADDRESS_LINE, ["--address", address, "--actors", "1"], tmp_path)
    local = score_inputs(
        str(clone / "examples" / "*.csv"), tmp_path / "local", "embedded", session_settings, progress=False
    )
    written = sorted(p.name for p in (clone / "scored").iterdir())
    assert (
        written
        == [p.name for p, _ in local.outputs]
        == [f"{p.stem}_scored.csv" for p in sorted((clone / "examples").glob("*.csv"))]
    )
    for out, _ in local.outputs:
        assert (clone / "scored" / out.name).read_bytes() == out.read_bytes(), out.name
