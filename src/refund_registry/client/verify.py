"""``refund-registry audit verify``: check the access log end to end, trusting nothing it serves.

What one run does, in order (each step is in ``docs/audit.md``):

1. **Key.** The checkpoint verifier key comes from ``--verifier-key`` (pinned,
   the right way), else from the ``--state`` file of an earlier run, else from
   ``GET /v1/audit/verifier-key`` (trust on first use, said so in the output).
2. **Checkpoint.** ``GET /v1/audit/checkpoint`` must be a signed note that
   verifies under that key, for the same log as the state file's.
3. **Consistency.** With a state file, the new checkpoint must extend the
   remembered one: a consistency proof from the registry, checked here
   (RFC 9162 §2.1.4.2). A smaller tree, or a proof that fails, is reported as
   an inconsistent checkpoint — the registry rewrote history or shows a split view.
4. **Entries.** Every entry up to the checkpoint's size is downloaded; each
   leaf hash is recomputed from the exact ``leaf`` bytes and the root of the
   whole tree must equal the checkpoint's root.
5. **Blame.** When it does not, the first wrong index is found by bisection:
   the longest downloaded prefix whose root the registry can prove consistent
   with the signed checkpoint ends just before the first entry that was
   altered, removed or moved. That takes O(log n) proofs and needs no trust in
   them: a proof that does not verify only moves the blame earlier.

Only when everything verifies does the run exit 0 and (with ``--state``)
remember the new checkpoint. Reading the log (steps 4 and 5) is
:mod:`refund_registry.client.auditlog`; this module runs the checks and gives
the verdict. Both need nothing from the server side (the pure
Merkle/checkpoint code, the request signer and httpx), so an auditor can run
them anywhere; :func:`averify` takes an httpx transport so tests can run it
against the app in-process.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from refund_registry.client.auditlog import Failed, Leaves, LogReader, Progress, download, locate
from refund_registry.client.auditstate import State, load_state, save_state
from refund_registry.client.signing import Signer
from refund_registry.client.witnessed import check_witnessed
from refund_registry.domain.checkpoint import (
    Checkpoint,
    CheckpointError,
    VerifierKey,
    parse_and_verify,
    parse_verifier_key,
)

__all__ = ["Verdict", "add_arguments", "averify", "main", "run", "signer_from", "verify"]

ENV_PRINCIPAL = "REGISTRY_AUDIT_PRINCIPAL"
ENV_KID = "REGISTRY_AUDIT_KID"
ENV_KEY_FILE = "REGISTRY_AUDIT_KEY_FILE"
ENV_VERIFIER_KEY = "REGISTRY_AUDIT_VERIFIER_KEY"
ENV_AUDIENCE = "REGISTRY_AUDIENCE"

PAGE_SIZE = 1000


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class Verdict:
    """The outcome of one run. ``ok`` only when every check passed.

    ``first_bad_index`` names the first entry that is missing or does not match
    the checkpoint; ``problems`` says what failed, ``steps`` what was checked.
    """

    ok: bool
    url: str
    checkpoint: Checkpoint | None = None
    entries: int = 0
    first_bad_index: int | None = None
    problems: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()

    def report(self) -> str:
        lines = [f"Refund Registry access log at {self.url}"]
        lines += [f"  {step}" for step in self.steps]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        if self.ok:
            size = self.checkpoint.size if self.checkpoint else 0
            lines.append(f"VERIFIED: all {size} entries match the signed checkpoint")
        elif self.first_bad_index is not None:
            lines.append(f"FAILED: the first wrong entry is index {self.first_bad_index}")
        else:
            lines.append("FAILED: the log could not be verified")
        return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- verification


async def averify(
    url: str,
    *,
    state_path: Path | str | None,
    verifier_key: str | None,
    signer: Signer,
    transport: httpx.AsyncBaseTransport | None = None,
    page_size: int = PAGE_SIZE,
    request_timeout: float = 30.0,
    witnesses: Sequence[str] = (),
    quorum: int = 0,
) -> Verdict:
    """Verify the log at ``url`` (see the module docstring); never raises for a bad log.

    ``signer`` must be an auditor's (entries are for auditors only). ``state_path``
    is read when it exists and written only when everything verified. With
    ``quorum`` k, the checkpoint checked is the latest with k cosignatures and
    the run fails unless k of ``witnesses`` (witness verifier keys) cosigned it.
    """
    state_file = Path(state_path) if state_path is not None else None
    progress = Progress()
    checkpoint: Checkpoint | None = None
    note, key = "", None
    entries = 0
    try:
        state = load_state(state_file) if state_file is not None else None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return Verdict(False, url, problems=(f"the state file {state_file} is unusable: {exc}",))
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return Verdict(False, url, problems=(f"{url!r} is not an http(s) URL",))
    base = f"{parts.scheme}://{parts.netloc}"
    try:
        async with httpx.AsyncClient(
            base_url=base, transport=transport, timeout=request_timeout
        ) as client:
            registry = LogReader(client, signer, parts.path)
            checkpoint, note, key = await _checkpoint(
                registry, state, verifier_key, progress, (tuple(witnesses), quorum)
            )
            if state is not None and state_file is not None:
                await _check_consistency(registry, state, state_file, checkpoint, progress)
            elif state_file is not None:
                progress.steps.append(f"consistency: no earlier checkpoint in {state_file} yet")
            leaves = Leaves()
            stopped = await download(registry, leaves, checkpoint.size, page_size, progress)
            entries = leaves.size
            if stopped is None and leaves.root(leaves.size) == checkpoint.root:
                progress.steps.append(
                    f"entries: {leaves.size} downloaded, every leaf hash recomputed, "
                    "the root matches the checkpoint"
                )
            else:
                await locate(registry, leaves, checkpoint, stopped, progress)
    except Failed as exc:
        progress.problems.append(str(exc))
    except httpx.HTTPError as exc:
        progress.problems.append(f"the registry could not be reached: {exc!r}")
    ok = not progress.problems and checkpoint is not None
    if ok and state_file is not None and checkpoint is not None and key is not None:
        save_state(state_file, checkpoint, key, note)
        progress.steps.append(f"state: remembered this checkpoint in {state_file}")
    return Verdict(
        ok,
        url,
        checkpoint,
        entries,
        progress.first_bad,
        tuple(progress.problems),
        tuple(progress.steps),
    )


async def _checkpoint(
    registry: LogReader,
    state: State | None,
    pinned: str | None,
    progress: Progress,
    policy: tuple[tuple[str, ...], int],
) -> tuple[Checkpoint, str, VerifierKey]:
    served = (await registry.get("/v1/audit/verifier-key", signed=False)).text.strip()
    try:
        if pinned:
            key, source = parse_verifier_key(pinned), "pinned"
        elif state is not None:
            key, source = parse_verifier_key(state.verifier_key), "remembered in the state file"
        else:
            key = parse_verifier_key(served)
            source = (
                "served by the registry and trusted on first use; "
                "pin it with --verifier-key or keep a --state file"
            )
    except CheckpointError as exc:
        raise Failed(f"the verifier key is unusable: {exc.detail}") from exc
    progress.steps.append(f"verifier key: {key} ({source})")
    if served != str(key):
        progress.steps.append(f"note: the registry now serves a different verifier key: {served}")
    witnesses, quorum = policy
    note = (
        await registry.get("/v1/audit/checkpoint", {"witnessed": quorum} if quorum else None)
    ).text
    try:
        checkpoint = parse_and_verify(note, key, origin=state.origin if state is not None else None)
    except CheckpointError as exc:
        raise Failed(f"the checkpoint does not verify: {exc.detail}") from exc
    progress.steps.append(
        f"checkpoint: {checkpoint.origin}, size {checkpoint.size}, root "
        f"{base64.b64encode(checkpoint.root).decode()}: signature verified"
    )
    if quorum:
        try:
            witnessed = check_witnessed(note, str(key), witnesses, quorum)
        except CheckpointError as exc:
            raise Failed(f"the checkpoint is NOT WITNESSED: {exc.detail}") from exc
        progress.steps.append(f"witnesses: {witnessed.describe()}, quorum {quorum}")
    return checkpoint, note, key


async def _check_consistency(
    registry: LogReader,
    state: State,
    state_file: Path,
    checkpoint: Checkpoint,
    progress: Progress,
) -> None:
    earlier = f"the earlier checkpoint of size {state.size} in {state_file}"
    if checkpoint.size < state.size:
        progress.problems.append(
            f"the checkpoint is NOT CONSISTENT with {earlier}: the log shrank to "
            f"{checkpoint.size} entries"
        )
        return
    if await registry.consistency_holds(state.size, checkpoint.size, state.root, checkpoint.root):
        progress.steps.append(f"consistency with {earlier}: proof verified")
    else:
        progress.problems.append(
            f"the checkpoint of size {checkpoint.size} is NOT CONSISTENT with {earlier}: "
            "the registry has rewritten the log since, or shows different views"
        )


def verify(
    url: str,
    *,
    state_path: Path | str | None,
    verifier_key: str | None,
    signer: Signer,
    transport: httpx.AsyncBaseTransport | None = None,
    page_size: int = PAGE_SIZE,
    witnesses: Sequence[str] = (),
    quorum: int = 0,
) -> Verdict:
    """:func:`averify` for callers without an event loop (the command line)."""
    return asyncio.run(
        averify(
            url,
            state_path=state_path,
            verifier_key=verifier_key,
            signer=signer,
            transport=transport,
            page_size=page_size,
            witnesses=witnesses,
            quorum=quorum,
        )
    )


# --------------------------------------------------------------------------- command line


class UsageError(Exception):
    """Bad arguments or credentials: exit status 2, as argparse uses."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="the registry's base URL")
    parser.add_argument(
        "--state",
        help="JSON file remembering the last verified checkpoint; the next run must extend it",
    )
    parser.add_argument(
        "--verifier-key",
        help=f"the pinned checkpoint verifier key (or ${ENV_VERIFIER_KEY}); "
        "got from the operator out of band",
    )
    parser.add_argument("--principal", help=f"auditor principal id (or ${ENV_PRINCIPAL})")
    parser.add_argument("--kid", help=f"the auditor key's id (or ${ENV_KID})")
    parser.add_argument("--key", help=f"PEM private key file (or ${ENV_KEY_FILE})")
    parser.add_argument("--audience", help=f"token audience (or ${ENV_AUDIENCE})")
    parser.add_argument(
        "--page-size", type=int, default=PAGE_SIZE, help="entries per request (1 to 1000)"
    )
    parser.add_argument(
        "--witness",
        action="append",
        default=[],
        metavar="NAME+KEYID+KEY",
        help="a witness verifier key you trust (repeat for each)",
    )
    parser.add_argument(
        "--quorum",
        type=int,
        default=0,
        help="refuse a checkpoint without this many cosignatures by the --witness keys",
    )


def signer_from(args: argparse.Namespace, env: Mapping[str, str]) -> Signer:
    """The auditor's request signer from the arguments, else the environment."""
    principal = args.principal or env.get(ENV_PRINCIPAL)
    kid = args.kid or env.get(ENV_KID)
    key_file = args.key or env.get(ENV_KEY_FILE)
    if not (principal and kid and key_file):
        raise UsageError(
            "auditor credentials are needed: --principal, --kid and --key "
            f"(or ${ENV_PRINCIPAL}, ${ENV_KID}, ${ENV_KEY_FILE})"
        )
    try:
        key = serialization.load_pem_private_key(Path(key_file).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(f"cannot read the private key {key_file}: {exc}") from exc
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise UsageError(f"{key_file} is neither an Ed25519 nor a P-256 private key")
    # The registry's audience is its public URL unless it was configured otherwise.
    audience = args.audience or env.get(ENV_AUDIENCE) or args.url.rstrip("/")
    return Signer(principal_id=principal, kid=kid, private_key=key, audience=audience)


def run(
    args: argparse.Namespace,
    out: TextIO | None = None,
    *,
    env: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> int:
    """Run a parsed ``audit verify``: 0 verified, 1 not verified, 2 bad arguments."""
    out = out or sys.stdout
    env = os.environ if env is None else env
    try:
        signer = signer_from(args, env)
        if not 1 <= args.page_size <= 1000:
            raise UsageError("--page-size must be between 1 and 1000")
        if not 0 <= args.quorum <= len(args.witness):
            raise UsageError("--quorum must be between 0 and the number of --witness keys")
    except UsageError as exc:
        sys.stderr.write(f"refund-registry audit verify: {exc}\n")
        return 2
    verdict = verify(
        args.url,
        state_path=args.state,
        verifier_key=args.verifier_key or env.get(ENV_VERIFIER_KEY),
        signer=signer,
        transport=transport,
        page_size=args.page_size,
        witnesses=args.witness,
        quorum=args.quorum,
    )
    out.write(verdict.report())
    return 0 if verdict.ok else 1


def main(argv: Sequence[str] | None = None) -> int:
    """``refund-registry audit verify …`` with its own argument parsing."""
    parser = argparse.ArgumentParser(
        prog="refund-registry audit verify",
        description="Verify the registry's access log end to end.",
    )
    add_arguments(parser)
    return run(parser.parse_args(None if argv is None else list(argv)))
