"""Headless-Chromium check of the dashboards (runs ``_browser.py`` in the Superset venv, which
ships selenium).  Debian's chromium, chromium-driver and a CJK font (Chinese labels) must be
installed: ``grassroots test`` and ``grassroots screenshots`` install them
(``grassroots.install``), this module only checks (``require_chromium``).
``refresh_screenshots`` writes the committed screenshots (``grassroots screenshots``)."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from grassroots.install import TEST_PACKAGES, require
from grassroots.superset.manage import ROOT, VENV, SupersetError

SCREENSHOTS = ROOT / "dashboards" / "screenshots"

BROWSER_SCRIPT = Path(__file__).with_name("_browser.py")
# what the browser check needs: file -> Debian package (the same entries as the test machine's)
CHROMIUM = {path: pkg for path, pkg in TEST_PACKAGES.items()
            if pkg in ("chromium", "chromium-driver", "fonts-wqy-microhei")}


def require_chromium() -> None:
    """Fail with the command that installs them when chromium, its driver or the font is missing."""
    for path in CHROMIUM:
        require(path)


def check_dashboards(url: str, username: str, password: str, dashboards: list[dict],
                     screenshots: Path, *, venv: Path = VENV, timeout: float = 90) -> list[dict]:
    """Open each dashboard ({"slug", "charts"}) logged in; returns one result dict per dashboard
    (errors, rendered chart count, seconds, screenshot path)."""
    require_chromium()
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
