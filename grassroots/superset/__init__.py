"""Superset for the grassroots dashboards (Superset runs in its own venv, ``.venvs/superset``).

Public API (callable from the pipeline venv)::

    from grassroots.superset import setup, start, stop, import_bundle
    info = setup(Path("var/superset"), Path("var/serving.duckdb"))   # -> SupersetInfo
    print(info.summary())
"""

from grassroots.superset.manage import (
    SupersetError,
    SupersetInfo,
    bootstrap,
    build_bundle,
    configure_security,
    ensure_env,
    import_bundle,
    setup,
    start,
    stop,
)

__all__ = [
    "SupersetError",
    "SupersetInfo",
    "bootstrap",
    "build_bundle",
    "configure_security",
    "ensure_env",
    "import_bundle",
    "setup",
    "start",
    "stop",
]
