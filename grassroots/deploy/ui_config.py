"""Superset's UI and security settings, read by both Superset configurations.

The demo's generated ``superset_config.py`` (``grassroots.superset.manage.write_config``) and the
Compose one (``grassroots/deploy/superset_config.py``) merge :func:`settings` into their globals,
so a dashboard behaves alike in both: Chinese first, row-level security on (a hospital manager sees
their own hospital's rows only), cross-filters and drilling for the analysts.

Standard library only (the Superset image imports this package without the pipeline's
dependencies).
"""

from __future__ import annotations


def settings() -> dict:
    """Fresh dicts at each call: a configuration adds its own FEATURE_FLAGS (Alerts & Reports)."""
    return {
        "BABEL_DEFAULT_LOCALE": "zh",
        "LANGUAGES": {
            "zh": {"flag": "cn", "name": "简体中文"},
            "en": {"flag": "us", "name": "English"},
        },
        "FEATURE_FLAGS": {
            "DASHBOARD_RBAC": True,
            "ENABLE_TEMPLATE_PROCESSING": True,
            "DASHBOARD_CROSS_FILTERS": True,
            "DRILL_BY": True,
            "DRILL_TO_DETAIL": True,
            "DASHBOARD_VIRTUALIZATION": False,
            "ROW_LEVEL_SECURITY": True,
        },
        "ROW_LEVEL_SECURITY": True,
        "PREVENT_UNSAFE_DB_CONNECTIONS": False,  # the DuckDB serving file is a local path
        "WTF_CSRF_ENABLED": True,
        "SQLLAB_CTAS_NO_LIMIT": True,
        "SUPERSET_LOAD_EXAMPLES": False,
    }
