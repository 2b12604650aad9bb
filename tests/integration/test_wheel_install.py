"""The built wheel, installed without ``-e``, serves in zero-setup mode.

An editable install reads everything from the source checkout, so it cannot
show that the wheel carries what the service needs at run time (the migrations
above all). These tests build the wheel, install it into a fresh virtualenv and
run its ``refund-registry`` command. To keep the run offline and short, the
fresh virtualenv sees the dependencies of the development virtualenv through a
``.pth`` line; ``refund_registry`` itself is imported from the wheel (asserted).
The editable install's own ``.pth`` there is not processed, because Python
reads ``.pth`` files only in site directories, not in folders a ``.pth`` adds.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from refund_registry.cli.embedded import Endpoints
from tests.support.waiting import free_port, wait_for_http

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Venv:
    root: Path
    python: Path
    command: Path
    site_packages: Path


def _run(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


def _env(**extra: str) -> dict[str, str]:
    """The environment without settings or import paths that could point elsewhere."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("REGISTRY_")
        and k not in {"DATABASE_URL", "REDIS_URL", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a copy of the checkout (the build leaves no files in it)."""
    tree = tmp_path_factory.mktemp("tree")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, tree / name)
    shutil.copytree(
        ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    out = tmp_path_factory.mktemp("dist")
    # No build isolation: setuptools comes from the dev extras, so no download.
    _run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "--no-index",
        "--no-build-isolation",
        "--wheel-dir",
        out,
        tree,
    )
    (built,) = out.glob("refund_registry-*.whl")
    return built


def _install(wheel: Path, where: Path) -> Venv:
    root = where / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", root)
    python = root / "bin" / "python"
    site_packages = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip()
    )
    dev_site_packages = sysconfig.get_paths()["purelib"]
    (site_packages / "dev_dependencies.pth").write_text(dev_site_packages + "\n")
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        "--no-deps",
        "--no-index",
        wheel,
    )
    return Venv(root, python, root / "bin" / "refund-registry", site_packages)


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Venv:
    return _install(wheel, tmp_path_factory.mktemp("installed"))


@pytest.fixture
def data_dir() -> Iterator[Path]:
    # Under /tmp itself: the embedded PostgreSQL may run as another user, who
    # cannot enter pytest's private temporary folders.
    path = Path(tempfile.mkdtemp(prefix="rrwheel-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_the_wheel_carries_the_migrations_and_queries(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "refund_registry/storage/migrations/0001_foundation.sql" in names
    assert any(n.startswith("refund_registry/storage/sql/") for n in names)


def test_the_package_is_imported_from_the_wheel_install(venv: Venv) -> None:
    probe = (
        "import refund_registry; from refund_registry.storage import migrate; "
        "print(refund_registry.__file__); print(len(migrate.discover()))"
    )
    file, count = _run(venv.python, "-c", probe, cwd=venv.root, env=_env()).split()
    assert Path(file).is_relative_to(venv.site_packages), file
    assert not Path(file).is_relative_to(ROOT / "src")
    assert int(count) >= 1


def test_the_installed_command_serves_zero_setup(venv: Venv, data_dir: Path) -> None:
    port = free_port()
    log = data_dir.parent / f"{data_dir.name}.log"
    with log.open("wb") as err:
        serve = subprocess.Popen(
            [str(venv.command), "serve", "--data-dir", str(data_dir), "--port", str(port)],
            env=_env(REGISTRY_KEYSERVICE_PORT=str(free_port())),
            cwd=venv.root,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
        try:
            ready = wait_for_http(
                f"http://127.0.0.1:{port}/health/ready", process=serve, seconds=45, interval=0.2
            )
        finally:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(timeout=30)
            except subprocess.TimeoutExpired:
                serve.kill()
                serve.wait()
    output = log.read_text(errors="replace")
    log.unlink()
    assert ready, f"the installed `refund-registry serve` never became ready:\n{output}"
    assert serve.returncode == 0, output
    assert "0001_foundation" in output  # migrated from the wheel's own files


def test_a_wheel_without_migrations_is_refused_with_a_clear_message(
    wheel: Path, tmp_path: Path, servers: Endpoints
) -> None:
    broken = _install(wheel, tmp_path)
    shipped = broken.site_packages / "refund_registry" / "storage" / "migrations"
    for file in shipped.glob("*.sql"):
        file.unlink()
    done = subprocess.run(
        [str(broken.command), "migrate"],
        env=_env(DATABASE_URL=servers.database_url, REDIS_URL=servers.redis_url),
        cwd=broken.root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    assert "no migration files" in done.stderr
    assert "incomplete" in done.stderr
