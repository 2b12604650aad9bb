"""``refund-registry principals``: members, adjudicators, auditors, admins and their keys.

Results print as plain text (``key: value`` lines, an aligned table for
``list``); ``--json`` prints them as JSON for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any, TextIO

from refund_registry.cli.common import (
    CommandError,
    UsageError,
    backing_servers,
    json_option,
    load_settings,
    migrate_schema,
    read_file,
    with_pool,
)
from refund_registry.cli.output import write_fields, write_json, write_table

ROLES = ("member", "adjudicator", "auditor", "admin", "portal")
KEY_ALGORITHMS = ("Ed25519", "ES256")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    prin = sub.add_parser(
        "principals",
        help="members, adjudicators, auditors, admins and their keys",
        description="Register principals and manage their keys. Results print as text; "
        "--json prints them as JSON.",
    )
    psub = prin.add_subparsers(dest="action", required=True, metavar="ACTION")
    as_json = json_option()
    parents = [common, as_json]

    keygen = psub.add_parser(
        "keygen",
        parents=[as_json],
        help="generate a key pair for a principal (no server needed)",
        description="Write NAME.pem (the private key, mode 0600: it stays with the principal) "
        "and NAME.pub.pem (the public key, for `principals add --public-key`). "
        "Existing files are never overwritten.",
    )
    keygen.add_argument(
        "--out", required=True, metavar="NAME", help="path and base name of the two files"
    )
    keygen.add_argument(
        "--alg",
        choices=KEY_ALGORITHMS,
        default="Ed25519",
        help="key type: Ed25519 (signs as EdDSA) or P-256 (signs as ES256)",
    )

    add = psub.add_parser("add", parents=parents, help="register a principal and its public key")
    add.add_argument("--name", required=True, help="display name, 1 to 200 characters")
    add.add_argument("--role", required=True, choices=ROLES, help="what the principal may do")
    add.add_argument(
        "--public-key",
        required=True,
        metavar="FILE",
        help="PEM file with an Ed25519 or P-256 public key (e.g. NAME.pub.pem from keygen)",
    )

    add.add_argument(
        "--org",
        metavar="ORG",
        help="the organisation (platform) it acts for, created when new; its principals share "
        "one daily budget. Default: an organisation of its own, named by the principal's id",
    )

    quota = psub.add_parser(
        "quota",
        parents=parents,
        help="set an organisation's daily quotas (logged)",
        description="Give an organisation daily quotas of its own; a value of 0 returns to the "
        "deployment's default. Quotas above the ceiling (2,000,000 evaluations or 5,000,000 "
        "query lookups a day) are refused unless --above-ceiling is given; such a change is "
        "logged as a warning and kept on the organisation.",
    )
    quota.add_argument("--org", required=True, metavar="ORG", help="organisation id")
    quota.add_argument(
        "--evaluations-per-day", type=int, metavar="N", help="key-service evaluations a day"
    )
    quota.add_argument(
        "--queries-per-day", type=int, metavar="N", help="risk-query lookups (identifiers) a day"
    )
    quota.add_argument(
        "--above-ceiling",
        action="store_true",
        help="allow a quota above the ceiling (an operator's explicit decision)",
    )
    psub.add_parser(
        "orgs", parents=parents, help="organisations: principals, quotas and today's usage"
    )

    add_key = psub.add_parser(
        "add-key", parents=parents, help="add a further key to a principal (rotation)"
    )
    add_key.add_argument("--id", required=True, help="principal id, e.g. mbr_…")
    add_key.add_argument(
        "--public-key", required=True, metavar="FILE", help="PEM file with the new public key"
    )

    psub.add_parser("list", parents=parents, help="list principals and their active key ids")

    show = psub.add_parser("show", parents=parents, help="one principal and all its keys")
    show.add_argument("id", metavar="ID", help="principal id, e.g. mbr_…")

    revoke = psub.add_parser(
        "revoke", parents=parents, help="revoke a principal or one key (final)"
    )
    target = revoke.add_mutually_exclusive_group(required=True)
    target.add_argument("--id", help="principal id: revokes the principal and all its keys")
    target.add_argument("--kid", help="key id: revokes only that key (end of a rotation)")

    for action, what in (
        ("suspend", "suspend a principal (reversible)"),
        ("reactivate", "reactivate a suspended principal"),
    ):
        p = psub.add_parser(action, parents=parents, help=what)
        p.add_argument("--id", required=True, help="principal id, e.g. mbr_…")

    for p in psub.choices.values():
        p.set_defaults(handler=cmd_principals)
    keygen.set_defaults(handler=cmd_keygen)


# --------------------------------------------------------------------------- keygen


def cmd_keygen(args: argparse.Namespace, out: TextIO) -> int:
    """Generate a key pair; the private half is created 0600 and never overwritten."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from refund_registry.domain.keyring import parse_public_key

    base = args.out[: -len(".pem")] if args.out.endswith(".pem") else args.out
    private_path = Path(f"{base}.pem").expanduser()
    public_path = Path(f"{base}.pub.pem").expanduser()
    existing = [str(p) for p in (private_path, public_path) if p.exists()]
    if existing:
        verb = "exists" if len(existing) == 1 else "exist"
        raise UsageError(f"{' and '.join(existing)} already {verb}; not overwriting")
    if not private_path.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {private_path.parent} does not exist")
    key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = (
        ed25519.Ed25519PrivateKey.generate()
        if args.alg == "Ed25519"
        else ec.generate_private_key(ec.SECP256R1())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    _create(private_path, private_pem, 0o600)
    try:
        _create(public_path, public_pem, 0o644)
    except BaseException:
        private_path.unlink(missing_ok=True)
        raise
    parsed = parse_public_key(public_pem)
    result = {
        "private_key": str(private_path),
        "public_key": str(public_path),
        "alg": parsed.alg,
        "kid": parsed.kid,
    }
    if args.json:
        write_json(out, result)
    else:
        write_fields(out, result)
        out.write(
            f"\nKeep {private_path} secret. Register the public key with:\n"
            f"  refund-registry principals add --name NAME --role member "
            f"--public-key {public_path}\n"
        )
    return 0


def _create(path: Path, data: bytes, mode: int) -> None:
    """Write a new file with ``mode`` from the start (never a moment world-readable)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise UsageError(f"{path} already exists; not overwriting") from None
    except OSError as exc:
        raise UsageError(f"cannot create {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise


# --------------------------------------------------------------------------- registration


def public_key_file(path: str) -> bytes:
    """The PEM of ``--public-key``, checked before any server is started."""
    from refund_registry.domain.keyring import parse_public_key
    from refund_registry.errors import RegistryError

    pem = read_file(path, "--public-key")
    if b"PRIVATE KEY-----" in pem:
        raise UsageError(
            f"--public-key {path} holds a PRIVATE key: keep it secret and pass the public "
            "half (NAME.pub.pem from `principals keygen`)"
        )
    if b"-----BEGIN" not in pem:
        raise UsageError(f"--public-key {path} is not a PEM file")
    try:
        parse_public_key(pem)
    except RegistryError as exc:
        if exc.code == "key.unsupported":
            raise UsageError(f"--public-key {path}: {exc.detail}") from None
        raise UsageError(f"--public-key {path} is not a readable PEM public key") from None
    return pem


def cmd_principals(args: argparse.Namespace, out: TextIO) -> int:
    from refund_registry.services import principals

    settings = load_settings(args)
    pem = public_key_file(args.public_key) if getattr(args, "public_key", None) else b""

    async def work(pool: Any) -> Any:
        if args.action == "add":
            return await principals.add_principal(
                pool, name=args.name, role=args.role, pem=pem, org=args.org
            )
        if args.action in ("quota", "orgs"):
            return await _organisations(pool, args, settings)
        if args.action == "add-key":
            return await principals.add_key(pool, principal_id=args.id, pem=pem)
        if args.action == "list":
            return await principals.list_all(pool)
        if args.action == "show":
            return await principals.show(pool, args.id)
        if args.action == "revoke":
            return await principals.revoke(pool, principal_id=args.id, kid=args.kid)
        if args.action == "suspend":
            return await principals.set_status(pool, args.id, "suspended")
        if args.action == "reactivate":
            return await principals.set_status(pool, args.id, "active")
        raise CommandError(f"unknown action {args.action}")

    with backing_servers(settings) as live:
        migrate_schema(live)
        try:
            result = asyncio.run(with_pool(live, work))
        except OSError as exc:
            raise CommandError(f"PostgreSQL: {exc.strerror or exc}") from exc
    if args.json:
        write_json(out, result)
    elif args.action == "list":
        _write_list(out, result)
    elif args.action == "show":
        _write_show(out, result)
    elif args.action == "add":
        write_fields(out, {**result, "name": args.name.strip(), "role": args.role})
    elif args.action == "orgs":
        write_table(
            out,
            [
                ("ORG", "org"),
                ("PRINCIPALS", "principals"),
                ("EVALUATIONS TODAY", "evaluations_today"),
                ("/ DAY", "evaluations_per_day"),
                ("QUERIES TODAY", "queries_today"),
                ("/ DAY", "queries_per_day"),
                ("ABOVE CEILING", "above_ceiling"),
            ],
            result,
        )
    else:
        write_fields(out, result)
    return 0


async def _organisations(pool: Any, args: argparse.Namespace, settings: Any) -> Any:
    import datetime as dt

    from refund_registry.services import organisations

    if args.action == "orgs":
        return await organisations.list_all(
            pool,
            default_evaluations=settings.keyservice_quota_per_day,
            default_queries=settings.query_quota_per_day,
            now=dt.datetime.now(dt.UTC),
        )
    given = {
        name: value or None  # 0: back to the deployment's default
        for name, value in (
            ("evaluations_per_day", args.evaluations_per_day),
            ("queries_per_day", args.queries_per_day),
        )
        if value is not None
    }
    if not given:
        raise UsageError("give --evaluations-per-day, --queries-per-day or both (0: the default)")
    return await organisations.set_quota(pool, args.org, **given, above_ceiling=args.above_ceiling)


def _write_list(out: TextIO, rows: list[dict[str, Any]]) -> None:
    if not rows:
        out.write("no principals yet (add one with `refund-registry principals add`)\n")
        return
    shown = [{**r, "created_at": r["created_at"][:19].replace("T", " ")} for r in rows]
    write_table(
        out,
        [
            ("ID", "id"),
            ("NAME", "name"),
            ("ROLE", "role"),
            ("STATUS", "status"),
            ("CREATED (UTC)", "created_at"),
            ("ACTIVE KEYS", "active_kids"),
        ],
        shown,
    )


def _write_show(out: TextIO, principal: dict[str, Any]) -> None:
    write_fields(out, {k: v for k, v in principal.items() if k != "keys"})
    out.write("\n")
    if not principal["keys"]:
        out.write("no keys\n")
        return
    write_table(
        out,
        [("KID", "kid"), ("ALG", "alg"), ("ADDED", "created_at"), ("REVOKED", "revoked_at")],
        principal["keys"],
    )
