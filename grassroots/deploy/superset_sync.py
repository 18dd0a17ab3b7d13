"""The ``superset-sync`` service: ``python -m grassroots.deploy.superset_sync [--once]``.

Keeps what depends on the data in step with the serving file the nightly DAG publishes:

* the roles ``commission_analyst`` and ``hospital_manager_<code>`` with their row-level-security
  filters, and an account per role (``grassroots.superset.manage.configure_security``): a hospital
  that delivers for the first time gets its role the morning after;
* the scheduled reports and alerts of ``dashboards/reports.yml`` (``grassroots.superset.reports
  .sync``): recipients from the environment, targets from the serving file's catalogue.

A pass runs when the serving file is new or changed (its size and modification time), or the
schedules' inputs are (``dashboards/reports.yml`` and the recipients' variables, as after an image
or ``.env`` change); what the last pass saw is kept in ``SUPERSET_HOME/.synced``.  The service
looks every ``GRASSROOTS_SYNC_INTERVAL`` seconds (default 60).  A failed pass is printed and tried
again when its inputs change or after ``RETRY_SECONDS``.  ``--once`` looks once (``--force``: a
pass even when nothing changed) and exits non-zero when the pass failed or there is no serving
file yet.  Environment as ``superset_init``: ``SUPERSET_HOME``, ``GRASSROOTS_SERVING`` (the path
as Superset sees it).  Standard library only at import time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

MARKER = ".synced"
HEARTBEAT = ".sync-alive"  # touched at every look: the Compose healthcheck reads its age
RETRY_SECONDS = 900  # a pass that failed on this file (a bad reports.yml entry, say) waits


# the variables dashboards/reports.yml reads its recipients from
_RECIPIENT_VARS = ("GRASSROOTS_REPORTS_", "GRASSROOTS_SMTP_TO", "GRASSROOTS_WEBHOOK_URL")


def _identity(serving: Path) -> str | None:
    """The serving file's size and time and a digest of the schedules' inputs; None without it."""
    from grassroots.superset.reports import REPORTS_YML

    try:
        st = serving.stat()
    except FileNotFoundError:
        return None
    h = hashlib.sha256(REPORTS_YML.read_bytes())
    for k in sorted(k for k in os.environ if k.startswith(_RECIPIENT_VARS)):
        h.update(f"\0{k}={os.environ[k]}".encode())
    return f"{st.st_size}:{st.st_mtime_ns}:{h.hexdigest()[:16]}"


def sync_once(home: Path, serving: Path, venv: Path, ident: str | None, *,
              force: bool = False) -> dict | None:
    """One pass when ``ident`` (the serving file's ``_identity``) differs from the last pass's (or
    ``force``); None when there was nothing to do.  Raises what the Superset side raised; the
    marker is written on success only."""
    from grassroots.superset import reports
    from grassroots.superset.manage import configure_security

    marker = home / MARKER
    if ident is None or (not force and marker.is_file() and marker.read_text() == ident):
        return None
    t = time.monotonic()
    users = configure_security(home, serving, venv=venv)  # the reports' owners come from these
    result = reports.sync(home, serving, venv=venv)
    marker.write_text(ident)
    return {"roles": len({r for u in users for r in u["roles"]}),
            "schedules": {k: len(v) for k, v in result.items() if isinstance(v, list)},
            "seconds": round(time.monotonic() - t, 1)}


def main(argv: list[str]) -> int:
    from grassroots.deploy.superset_init import superset_venv

    home = Path(os.environ.get("SUPERSET_HOME") or "/app/superset_home")
    serving = Path(os.environ["GRASSROOTS_SERVING"])
    interval = float(os.environ.get("GRASSROOTS_SYNC_INTERVAL") or 60)
    venv = superset_venv()
    once, force = "--once" in argv, "--force" in argv
    failed: tuple[str | None, float] = (None, 0.0)  # the file a pass failed on, and when
    home.mkdir(parents=True, exist_ok=True)
    while True:
        (home / HEARTBEAT).touch()
        ident = _identity(serving)
        if once or ident != failed[0] or time.monotonic() - failed[1] >= RETRY_SECONDS:
            try:
                done = sync_once(home, serving, venv, ident, force=force)
                if done is not None:
                    print(f"superset-sync: {serving}: {json.dumps(done, ensure_ascii=False)}",
                          flush=True)
                elif once and ident is None:
                    print(f"superset-sync: {serving} is not there yet", file=sys.stderr,
                          flush=True)
                    return 1
                elif once:
                    print(f"superset-sync: already in step with {serving}", flush=True)
            except Exception as e:  # noqa: BLE001 - the service lives on and tries again
                failed = (ident, time.monotonic())
                print(f"superset-sync: failed, tried again when the serving file changes or in "
                      f"{RETRY_SECONDS // 60} minutes: {e}", file=sys.stderr, flush=True)
                if once:
                    return 1
        if once:
            return 0
        time.sleep(interval)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
