"""Deployment: docker-compose.yml (repository root) and what it needs, kept inside the package.

* ``airflow.Dockerfile``, ``superset.Dockerfile``: the official images with the project added.
* ``postgres-init.sh``: the Airflow and Superset metadata roles and databases.
* ``airflow_init``: ``python -m grassroots.deploy.airflow_init`` (the ``airflow-init`` job).
* ``superset_init``: ``python -m grassroots.deploy.superset_init`` (the ``superset-init`` job).
* ``superset_sync``: ``python -m grassroots.deploy.superset_sync`` (the ``superset-sync`` service:
  roles and schedules in step with each published serving file).
* ``superset_config.py``: Superset's configuration, everything from the environment; with
  ``ui_config`` (the UI and security settings) and ``reports_config`` (Alerts & Reports), which
  the demo's generated configuration reads too.
* ``envfile``: ``python3 -m grassroots.deploy.envfile .env`` fills each CHANGE_ME with a secret.

Standard library only (the Superset image imports this package without the pipeline's
dependencies).
"""

from __future__ import annotations

import os

PLACEHOLDER = "CHANGE_ME"


class DeployError(RuntimeError):
    pass


def require_secrets(names: list[str], env: dict[str, str] | None = None) -> None:
    """Refuse to initialise with a secret missing or still the .env.example placeholder."""
    e = os.environ if env is None else env
    bad = [n for n in names if not e.get(n) or PLACEHOLDER in e[n]]
    if bad:
        raise DeployError(f"set these in .env (python3 -m grassroots.deploy.envfile .env): "
                          f"{', '.join(bad)}")
