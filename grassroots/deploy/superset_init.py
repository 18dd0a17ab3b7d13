"""The ``superset-init`` job: ``python -m grassroots.deploy.superset_init``.

Runs in the Superset image (its own interpreter has Superset) or, from the pipeline env, against
``.venvs/superset`` (tests/test_deploy.py). Uses the same functions as the demo
(``grassroots.superset``): ``bootstrap`` (db upgrade, admin, init — skipped once done for this
metadata DB) and ``import_bundle`` (every database, dataset, chart and dashboard of
``dashboards/assets``, overwriting, so a new image's dashboards replace the old ones).

Environment: ``SUPERSET_HOME`` (config, marker files), ``GRASSROOTS_SUPERSET_DB_URI`` (metadata),
``SUPERSET_SECRET_KEY``, ``SUPERSET_ADMIN_PASSWORD``, ``GRASSROOTS_SERVING`` (the path of the
serving file *as Superset sees it*; it need not exist yet).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import time
from pathlib import Path

from grassroots.deploy import DeployError, require_secrets

CONFIG = Path(__file__).with_name("superset_config.py")
SECRETS = ["SUPERSET_SECRET_KEY", "SUPERSET_ADMIN_PASSWORD", "GRASSROOTS_SUPERSET_DB_URI"]


def superset_venv() -> Path:
    """This interpreter's environment when it has Superset (the image), else .venvs/superset."""
    if importlib.util.find_spec("superset") is not None:
        return Path(sys.prefix)
    from grassroots.superset.manage import VENV, ensure_env

    ensure_env(VENV)
    return VENV


def run(home: Path, serving: Path, venv: Path) -> dict:
    from grassroots.superset import bootstrap, import_bundle

    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(CONFIG, home / "superset_config.py")
    pw = home / "admin_password"  # bootstrap() reads the admin password from here
    fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.environ["SUPERSET_ADMIN_PASSWORD"] + "\n")
    t = time.monotonic()
    bootstrap(home, venv=venv)
    print(f"superset bootstrap: {time.monotonic() - t:.0f}s", flush=True)
    t = time.monotonic()
    result = import_bundle(home, serving, venv=venv)
    print(f"dashboards bundle imported ({result}): {time.monotonic() - t:.0f}s", flush=True)
    return result


def main() -> int:
    try:
        require_secrets(SECRETS)
        home = Path(os.environ.get("SUPERSET_HOME") or "/app/superset_home")
        serving = Path(os.environ["GRASSROOTS_SERVING"])
        run(home, serving, superset_venv())
    except DeployError as e:
        print(f"superset-init: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
