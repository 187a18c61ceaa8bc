"""Which files a batch job reads (a file, a folder or a glob) and where each scored copy goes."""

from __future__ import annotations

import glob
from collections.abc import Sequence
from pathlib import Path

from sentiment.errors import BatchInputError
from sentiment.tables.scoring import TablePlan

# A folder holds other things too (a README, images): only these are read from it. A file named on its own, or
# matched by a glob, is read whatever its name (the layout is decided from the content).
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".parquet")


def expand_inputs(spec: str) -> list[Path]:
    """The files ``spec`` names, sorted: itself, the table files of a folder, or the files a glob matches."""
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES)
    else:
        found = sorted(Path(p) for p in glob.glob(spec, recursive=True) if Path(p).is_file())
    if not found:
        raise BatchInputError(
            f"no input files at {spec!r}: give a file, a folder of {'/'.join(TABLE_SUFFIXES)} files, "
            "or a quoted glob such as 'exports/*.csv'"
        )
    return found


def output_paths(plans: Sequence[TablePlan], output: Path, inputs: int | None = None) -> list[Path]:
    """``output`` itself for one input, unless it is a folder; else one ``<stem>_scored.csv`` (``.tsv``) per input
    inside the folder ``output``, numbered when two inputs would get the same name. ``inputs``: how many files the
    job was given (default: one per plan), so that skipping some never turns the folder asked for into a file."""
    several = (inputs if inputs is not None else len(plans)) > 1
    as_folder = output.is_dir() or several or str(output).endswith(("/", "\\"))
    if not as_folder:
        return [output]
    if output.exists() and not output.is_dir():
        raise BatchInputError(f"{output} is a file; {len(plans)} inputs need a folder for their scored copies")
    taken: set[str] = set()
    paths: list[Path] = []
    for plan in plans:
        name = plan.fmt.scored_name(plan.path)
        stem, suffix = name.rsplit(".", 1)
        attempt = 1
        while name.casefold() in taken:
            attempt += 1
            name = f"{stem}_{attempt}.{suffix}"
        taken.add(name.casefold())
        paths.append(output / name)
    return paths
