"""The ``refund-registry`` entry point: build the parser, read the settings, dispatch."""

from __future__ import annotations

import argparse
import sys
import warnings
from importlib import metadata

from refund_registry import logs
from refund_registry.cli import (
    audit,
    console,
    db,
    evidence,
    keys,
    keyservice,
    migrate,
    outbox,
    principals,
    serve,
    witness,
    worker,
)
from refund_registry.cli.common import CommandError, Parser
from refund_registry.config import ConfigError, Settings, default_data_dir
from refund_registry.errors import RegistryError


def package_version() -> str:
    """The installed distribution's version (``unknown`` when run from a bare source tree)."""
    try:
        return metadata.version("refund-registry")
    except metadata.PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="refund-registry",
        description="Refund Registry: a shared ledger of confirmed refund fraud",
        epilog="Run `refund-registry COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data folder of zero-setup mode: embedded PostgreSQL and Valkey, generated keys "
        f"(default: $REGISTRY_DATA_DIR, else {default_data_dir()})",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order ``--help`` lists the commands in.
    for group in (
        serve,
        migrate,
        audit,
        keys,
        keyservice,
        worker,
        principals,
        console,
        outbox,
        evidence,
        witness,
        db,
    ):
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
        raise SystemExit(exc.exit_code) from None
    except RegistryError as exc:
        sys.stderr.write(f"refund-registry: {exc.code}: {exc.detail}\n")
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        sys.stderr.write("refund-registry: interrupted\n")
        raise SystemExit(130) from None
    raise SystemExit(code)
