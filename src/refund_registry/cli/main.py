"""The ``refund-registry`` entry point: build the parser, read the settings, dispatch."""

from __future__ import annotations

import argparse
import sys
import warnings

from refund_registry import logs
from refund_registry.cli import audit, keys, keyservice, migrate, principals, serve, worker
from refund_registry.cli.common import CommandError
from refund_registry.config import ConfigError, Settings
from refund_registry.errors import RegistryError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refund-registry",
        description="Refund Registry: a shared ledger of confirmed refund fraud",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", help="data folder for zero-setup mode (default: per-user)")
    sub = parser.add_subparsers(dest="command", required=True)
    # The order here is the order ``--help`` lists the commands in.
    for group in (serve, migrate, audit, keys, keyservice, worker, principals):
        group.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> None:
    # platformdirs warns about XDG_RUNTIME_DIR on servers; the fallback it picks is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        for line in exc.problems:
            sys.stderr.write(f"refund-registry: bad setting: {line}\n")
        raise SystemExit(2) from None
    args.settings = settings
    logs.configure(settings.log_level)
    try:
        code = args.handler(args, sys.stdout)
    except CommandError as exc:
        sys.stderr.write(f"refund-registry: {exc}\n")
        raise SystemExit(1) from None
    except RegistryError as exc:
        sys.stderr.write(f"refund-registry: {exc.code}: {exc.detail}\n")
        raise SystemExit(1) from None
    raise SystemExit(code)
