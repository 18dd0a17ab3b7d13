"""Headless-Chromium check of the dashboards (runs ``_browser.py`` in the Superset venv, which
ships selenium).  ``ensure_chromium`` installs Debian's chromium, chromium-driver and a CJK font
(Chinese labels) when missing; ``refresh_screenshots`` writes the committed screenshots
(``grassroots screenshots``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from grassroots.superset.manage import ROOT, VENV, SupersetError

SCREENSHOTS = ROOT / "dashboards" / "screenshots"

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


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refresh_screenshots(serving: Path, out: Path = SCREENSHOTS) -> list[dict]:
    """Every dashboard as the analyst sees it, from ``serving``, saved as ``out/<slug>.png``.

    A throwaway Superset (fresh metadata in a temporary folder, a free port) is set up, used and
    stopped; raises SupersetError when a dashboard shows an error or misses a chart."""
    from grassroots.superset.authoring import DASHBOARDS
    from grassroots.superset.manage import setup, stop

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "superset"
        info = setup(home, Path(serving), port=_free_port())
        try:
            analyst = next(u for u in info.users if "commission_analyst" in u["roles"])
            results = check_dashboards(info.url, analyst["username"], analyst["password"],
                                       [{"slug": d.slug, "charts": len(d.charts)} for d in DASHBOARDS], Path(out))
        finally:
            stop(home)
    bad = [r for r in results if r["errors"] or r["empty"] or r["has_error_text"]]
    if bad or len(results) < len(DASHBOARDS):
        raise SupersetError(f"dashboards did not render cleanly: {json.dumps(bad, ensure_ascii=False)[:3000]}")
    return results
