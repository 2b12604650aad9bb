"""What a benchmark prints about the machine and the software it measured."""

from __future__ import annotations

import contextlib
import os
import platform
from importlib import metadata
from pathlib import Path

from placement import pinning_available


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_report(load_generator: str) -> list[str]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mhz = ""
    with contextlib.suppress(OSError, ValueError):
        khz = int(Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq").read_text())
        mhz = f", {khz // 1000} MHz"
    packages = ", ".join(
        f"{name} {_version(name)}"
        for name in (
            "litestar",
            "uvicorn",
            "granian",
            "uvloop",
            "httptools",
            "redis",
            "hiredis",
            "PyJWT",
            "cryptography",
            "msgspec",
        )
    )
    return [
        f"cpu: {os.cpu_count()} x {model or platform.processor()}{mhz}",
        f"python {platform.python_version()} on {platform.system()} {platform.release()}",
        f"packages: {packages}",
        "placement: "
        + (
            "API worker on core 0; load generator, Valkey, PostgreSQL and this driver on core 1"
            if pinning_available()
            else "unpinned (taskset missing or one core)"
        ),
        f"load generator: {load_generator}",
    ]
