"""``python -m sentiment export DIR`` and ``import DIR``: the whole store as Parquet files (``transfer``), as
subcommands the CLI registers (kept here so ``sentiment/__main__.py`` stays a list of commands)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sentiment.settings import Settings
from sentiment.store.engine import Store
from sentiment.store.transfer import export_store, import_store


def add_transfer_commands(sub: Any, common: list[argparse.ArgumentParser]) -> None:
    """Register ``export`` and ``import`` on the CLI's subparsers (``sub``), with the CLI's ``common`` options."""
    x = sub.add_parser("export", parents=common, help="write the whole monitoring store as Parquet files into DIR")
    x.add_argument("dir", help="a new (or empty) folder")
    i = sub.add_parser("import", parents=common, help="load an export folder into the (empty) monitoring store")
    i.add_argument("dir", help="a folder written by export")
    i.add_argument(
        "--replace", action="store_true", help="delete the store's rows first (default: refuse a non-empty one)"
    )
    for transfer in (x, i):
        transfer.set_defaults(func=transfer_command)


def transfer_command(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``export`` / ``import`` against the configured store; prints the manifest / what was loaded as JSON."""
    store = Store.open(settings.store_url, timeout_s=settings.database_timeout_s)
    try:
        if args.command == "export":
            print(json.dumps(export_store(store, Path(args.dir)), indent=2))
        else:
            print(json.dumps(import_store(store, Path(args.dir), replace=args.replace), indent=2))
    finally:
        store.dispose()
    return 0
