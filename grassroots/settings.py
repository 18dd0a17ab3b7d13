"""Where things are: the repository's folders and the settings every command reads from the
environment, worked out once."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt"


def memory_limit() -> str:
    """``GRASSROOTS_MEMORY_LIMIT``: the most memory DuckDB may use in the loader and in dbt (a
    DuckDB size, e.g. ``4GB``); beyond it DuckDB spills to disk instead of the job being killed.
    Default: half of this machine's memory, leaving the rest to Airflow, Superset and the OS."""
    value = (os.environ.get("GRASSROOTS_MEMORY_LIMIT") or "").strip()
    if value:
        if not re.fullmatch(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", value, re.IGNORECASE):
            from grassroots.errors import RunError

            raise RunError(f"GRASSROOTS_MEMORY_LIMIT must be a size such as 4GB or 512MB, "
                           f"not {value!r}")
        return value
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, total // 2 // 2**30)}GB"


def home() -> Path:
    """``GRASSROOTS_HOME``: where the demo and the DAG keep their data (default ``<repo>/var``)."""
    return Path(os.environ.get("GRASSROOTS_HOME") or REPO / "var")


@dataclass(frozen=True)
class Settings:
    """The pipeline's paths, from the environment, so the CLI, tests and Airflow workers agree:
    ``GRASSROOTS_HOME``, ``GRASSROOTS_LANDING`` (``<home>/landing``), ``GRASSROOTS_WAREHOUSE``
    (``<home>/warehouse.duckdb``), ``GRASSROOTS_SERVING`` (``<home>/serving.duckdb``),
    ``GRASSROOTS_GX_DIR`` (``<home>/gx``), ``GRASSROOTS_DATA_DOCS`` (``<home>/data_docs``),
    ``GRASSROOTS_LOOKBACK_DAYS`` (default 7: the ingest of a business date also picks up late or
    redelivered folders of the days before it; unchanged folders are no-ops)."""

    home: Path
    landing: Path
    warehouse: Path
    serving: Path
    gx_dir: Path
    data_docs: Path
    lookback_days: int = 7

    @classmethod
    def from_env(cls) -> Settings:
        e = os.environ
        h = home()
        return cls(
            home=h,
            landing=Path(e.get("GRASSROOTS_LANDING") or h / "landing"),
            warehouse=Path(e.get("GRASSROOTS_WAREHOUSE") or h / "warehouse.duckdb"),
            serving=Path(e.get("GRASSROOTS_SERVING") or h / "serving.duckdb"),
            gx_dir=Path(e.get("GRASSROOTS_GX_DIR") or h / "gx"),
            data_docs=Path(e.get("GRASSROOTS_DATA_DOCS") or h / "data_docs"),
            lookback_days=int(e.get("GRASSROOTS_LOOKBACK_DAYS", "7")),
        )
