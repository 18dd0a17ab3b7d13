"""Compile this environment's packages to bytecode once, after uv has installed them.

uv does not write ``.pyc`` files at install, and under ``PYTHONDONTWRITEBYTECODE`` (set on some
CI machines and sandboxes) Python never writes them either: every process then recompiles what
it imports — Great Expectations took 10 s to import instead of 4.8, and every bench stage, dbt
start and Airflow task paid the same.  uv's own ``compile-bytecode`` setting would do it, but
with it every ``uv run`` recompiles the whole environment (astral-sh/uv#12202), so the commands
that start work call :func:`ensure_bytecode`, which runs the standard library's ``compileall``
once per ``uv.lock``.
"""

from __future__ import annotations

import compileall
import hashlib
import sys
import sysconfig
from pathlib import Path

from grassroots.settings import REPO

MARKER = ".grassroots-bytecode"
# how the separate environments (Superset, Spark) are installed: bytecode at install, as above
UV_PIP_OPTIONS = ("--compile-bytecode",)


def env_digest(lock: Path) -> str:
    """The marker of a separate environment: its lock and how it is installed (either changing
    re-installs it)."""
    return hashlib.sha256(lock.read_bytes() + " ".join(UV_PIP_OPTIONS).encode()).hexdigest()


def ensure_bytecode(prefix: Path | None = None, lock: Path = REPO / "uv.lock") -> bool:
    """Compile the environment's site-packages unless done for this lock; True if it compiled."""
    prefix = Path(prefix or sys.prefix)
    marker = prefix / MARKER
    digest = hashlib.sha256(lock.read_bytes() if lock.is_file() else b"").hexdigest()
    if marker.is_file() and marker.read_text() == digest:
        return False
    dirs = {sysconfig.get_path(k, vars={"base": str(prefix), "platbase": str(prefix)})
            for k in ("purelib", "platlib")}
    for d in sorted(dirs):
        if Path(d).is_dir():
            # quiet=2: some packages ship files for other Python versions that do not compile
            compileall.compile_dir(d, quiet=2, workers=0)
    marker.write_text(digest)
    return True


# --------------------------------------------------------------------------------------------
# The test machine: Debian packages the tests use, installed by `grassroots test` only

# file whose presence shows the package is installed -> Debian package
TEST_PACKAGES: dict[str, str] = {
    "/usr/bin/chromium": "chromium",  # the dashboards' browser tests
    "/usr/bin/chromedriver": "chromium-driver",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc": "fonts-wqy-microhei",  # Chinese labels
    # reading the scheduled reports' PDFs (images of the dashboards) back in the reports test
    "/usr/bin/tesseract": "tesseract-ocr",
    "/usr/share/tesseract-ocr/5/tessdata/chi_sim.traineddata": "tesseract-ocr-chi-sim",
    "/usr/bin/java": "openjdk-17-jre-headless",  # dbt on Spark (local mode)
    "/usr/bin/docker-compose": "docker-compose",  # validates docker-compose.yml without an engine
    "/usr/sbin/sshd": "openssh-server",  # a real SFTP server for the pull tests
}


class MachineError(RuntimeError):
    """A Debian package the tests need is missing and could not be installed."""


def missing_packages(needs: dict[str, str] = TEST_PACKAGES) -> list[str]:
    return sorted({pkg for path, pkg in needs.items() if not Path(path).exists()})


def ensure_debian_packages(needs: dict[str, str] = TEST_PACKAGES) -> list[str]:
    """Install the missing packages with apt-get (as root, or with passwordless sudo); returns
    what was installed."""
    import os
    import shutil
    import subprocess

    missing = missing_packages(needs)
    if not missing:
        return []
    if not shutil.which("apt-get"):
        raise MachineError(f"missing Debian packages {missing} and no apt-get to install them")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, capture_output=True)
    proc = subprocess.run(
        [*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        env=env, capture_output=True, text=True,
    )
    still = missing_packages(needs)
    if proc.returncode != 0 or still:
        raise MachineError(f"apt-get install {missing} failed:\n{proc.stderr[-2000:]}")
    return missing


def require(path: str) -> str:
    """``path`` of a tool the tests use, or a clear failure naming the command that installs it."""
    if not Path(path).exists():
        pkg = TEST_PACKAGES.get(path, "?")
        raise MachineError(
            f"{path} is missing (Debian package {pkg}): run `uv run grassroots test`, which "
            "prepares the test machine"
        )
    return path
