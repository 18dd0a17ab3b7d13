"""Headless-Chromium check of the dashboards (called from tests; runs ``_browser.py`` in the
Superset venv, which ships selenium).  ``ensure_chromium`` installs Debian's chromium,
chromium-driver and a CJK font (Chinese labels) when missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from grassroots.superset.manage import VENV, SupersetError

DEBIAN_PACKAGES = ["chromium", "chromium-driver", "fonts-wqy-microhei"]
BROWSER_SCRIPT = Path(__file__).with_name("_browser.py")


def _missing() -> list[str]:
    missing = []
    if not Path("/usr/bin/chromium").exists():
        missing.append("chromium")
    if not Path("/usr/bin/chromedriver").exists():
        missing.append("chromium-driver")
    if not Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc").exists():
        missing.append("fonts-wqy-microhei")
    return missing


def ensure_chromium() -> None:
    missing = _missing()
    if not missing:
        return
    if not shutil.which("apt-get"):
        raise SupersetError(f"missing {missing} and no apt-get to install them")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], env=env, check=False, capture_output=True)
    proc = subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", *missing], env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0 or _missing():
        raise SupersetError(f"apt-get install {missing} failed:\n{proc.stderr[-2000:]}")


def check_dashboards(url: str, username: str, password: str, dashboards: list[dict],
                     screenshots: Path, *, venv: Path = VENV, timeout: float = 90) -> list[dict]:
    """Open each dashboard ({"slug", "charts"}) logged in; returns one result dict per dashboard
    (errors, rendered chart count, seconds, screenshot path)."""
    ensure_chromium()
    cfg = {"url": url, "username": username, "password": password, "dashboards": dashboards,
           "screenshots": str(screenshots), "timeout": timeout}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as f:
        json.dump(cfg, f)
    try:
        proc = subprocess.run([str(venv / "bin" / "python"), str(BROWSER_SCRIPT), f.name],
                              capture_output=True, text=True, timeout=timeout * len(dashboards) + 420)  # + the login's retries
    finally:
        os.unlink(f.name)
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("@@JSON ")]
    if proc.returncode != 0 and len(results) < len(dashboards):
        raise SupersetError(f"browser check failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return results
