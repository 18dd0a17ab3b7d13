"""Where things are: the repository's folders and the settings every command reads from the
environment, worked out once."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt"


# DuckDB's share of GRASSROOTS_MEMORY_LIMIT.  The rest is the process's own memory: the loader's
# file chunks in flight (read ahead, being loaded, being archived), dbt's and GX's Python, and
# what DuckDB allocates outside its buffer pool.
DUCKDB_SHARE = 0.6


def size_bytes(size: str) -> int:
    """A DuckDB size in bytes (``4GB``, ``512MiB``: KB/MB/GB/TB count by 1000, as DuckDB does,
    KiB/MiB/GiB/TiB by 1024)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([KMGT])(i?))?B\s*", size, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a size: {size!r}")
    power = " KMGT".index((m.group(2) or " ").upper())
    return int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** power)


def memory_limit() -> str:
    """``GRASSROOTS_MEMORY_LIMIT``: the memory each stage of the job (loader, dbt, validation,
    publishing) may take, as a DuckDB size (e.g. ``4GB``).  DuckDB gets :data:`DUCKDB_SHARE` of
    it (:func:`duckdb_memory_limit`) and spills to disk beyond that instead of the job being
    killed.  Default: half of this machine's memory, leaving the rest to Airflow, Superset and
    the OS."""
    value = (os.environ.get("GRASSROOTS_MEMORY_LIMIT") or "").strip()
    if value:
        try:
            size_bytes(value)
        except ValueError:
            from grassroots.errors import RunError

            raise RunError(f"GRASSROOTS_MEMORY_LIMIT must be a size such as 4GB or 512MB, "
                           f"not {value!r}") from None
        return value
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return f"{max(1, total // 2 // 2**30)}GB"


def duckdb_memory_limit() -> str:
    """DuckDB's ``memory_limit`` in every connection of the job and in dbt's profile."""
    return f"{int(size_bytes(memory_limit()) * DUCKDB_SHARE) // 10**6}MB"


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
