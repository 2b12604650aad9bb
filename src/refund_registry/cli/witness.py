"""``refund-registry witness``: run a log witness (c2sp.org/tlog-witness) on your own machine.

``witness init --name NAME`` makes the folder and the key and prints the
witness's verifier key (give it to the registry's operator and to whoever
checks cosignatures); ``witness add-log VERIFIER_KEY`` follows a log;
``witness serve`` answers ``add-checkpoint``. The folder is ``--dir``, else
``$REGISTRY_WITNESS_DIR``, else ``witness`` in the data folder. Nothing here
needs the registry's database: a member runs it with the package alone.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, TextIO

from refund_registry.cli.common import CommandError
from refund_registry.config import default_data_dir
from refund_registry.domain.checkpoint import CheckpointError

ENV_DIR = "REGISTRY_WITNESS_DIR"
DEFAULT_PORT = 8090


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    witness = sub.add_parser(
        "witness",
        parents=[common],
        help="run a witness that cosigns the registry's checkpoints",
        description="A C2SP tlog-witness: keeps the latest checkpoint of each log it follows "
        "and cosigns a new one only if it is consistent with it.",
    )
    witness.add_argument(
        "--dir", help=f"the witness folder (default: ${ENV_DIR}, else DATA_DIR/witness)"
    )
    wsub = witness.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = wsub.add_parser("init", help="make the folder and key; print the verifier key")
    init.add_argument(
        "--name", required=True, help="the witness's name, e.g. witness.shop-a.example/w1"
    )
    init.set_defaults(handler=cmd_init)
    add = wsub.add_parser("add-log", help="follow a log, given its checkpoint verifier key")
    add.add_argument("verifier_key", help="the log's verifier key (name+keyid+key)")
    add.add_argument("--origin", help="the log's origin, when it is not the key's name")
    add.set_defaults(handler=cmd_add_log)
    serve = wsub.add_parser("serve", help="answer add-checkpoint until stopped")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to listen on")
    serve.set_defaults(handler=cmd_serve)
    show = wsub.add_parser("key", help="print the witness's verifier key")
    show.set_defaults(handler=cmd_key)


def _folder(args: argparse.Namespace) -> Path:
    if args.dir:
        return Path(args.dir).expanduser()
    if os.environ.get(ENV_DIR):
        return Path(os.environ[ENV_DIR]).expanduser()
    base = getattr(args, "data_dir", None) or os.environ.get("REGISTRY_DATA_DIR")
    return (Path(base).expanduser() if base else default_data_dir()) / "witness"


def cmd_init(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.witness.store import WitnessFolder, WitnessSetupError

    try:
        key = WitnessFolder(_folder(args)).init(args.name)
    except (WitnessSetupError, CheckpointError) as exc:
        raise CommandError(str(exc)) from None
    out.write(f"{key}\n")
    return 0


def cmd_add_log(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.witness.store import WitnessFolder, WitnessSetupError

    try:
        followed = WitnessFolder(_folder(args)).add_log(args.verifier_key, args.origin)
    except CheckpointError as exc:
        raise CommandError(f"bad verifier key: {exc.detail}") from None
    except WitnessSetupError as exc:
        raise CommandError(str(exc)) from None
    out.write(f"following {followed.origin} ({followed.key}); restart `witness serve`\n")
    return 0


def cmd_key(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.domain.checkpoint.cosignature import cosigner_key_string
    from refund_registry.witness.store import WitnessFolder, WitnessSetupError

    folder = WitnessFolder(_folder(args))
    try:
        out.write(f"{cosigner_key_string(folder.name, folder.private_key().public_key())}\n")
    except WitnessSetupError as exc:
        raise CommandError(str(exc)) from None
    return 0


def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.cli.serving import serve
    from refund_registry.witness.app import create_witness_app
    from refund_registry.witness.store import WitnessFolder, WitnessSetupError

    folder = WitnessFolder(_folder(args))
    try:
        with folder.lock():
            app = create_witness_app(folder)

            def ready() -> None:
                out.write(f"witness listening on {args.host}:{args.port}\n")
                out.flush()

            serve(app, args.host, args.port, on_ready=ready)
    except WitnessSetupError as exc:
        raise CommandError(str(exc)) from None
    return 0
