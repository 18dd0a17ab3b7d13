from __future__ import annotations

import stat
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from handmade import Landing  # noqa: E402

from grassroots.ingest import RunReport, ingest  # noqa: E402

TEST_KEY = b"test-hmac-key-not-a-secret"
# Columns that record when something happened, not what: excluded from state comparisons.
VOLATILE = {"received_at", "started_at", "finished_at", "recorded_at"}


class Env:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.landing = Landing(tmp / "landing").reference()
        self.warehouse = tmp / "wh" / "warehouse.duckdb"

    def run(self, **kw) -> RunReport:
        return ingest(self.landing.root, self.warehouse, key=TEST_KEY, **kw)

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as con:
            return con.execute(query, params or []).fetchall()

    def quarantine(self) -> list[tuple]:
        return self.sql("SELECT dataset, line_no, reason, detail FROM audit.quarantine "
                        "ORDER BY dataset, line_no")

    def state(self) -> dict[str, str]:
        return table_hashes(self.warehouse)

    def archive_files(self) -> dict[str, tuple[bytes, int]]:
        """Every file the archive keeps (``reference/…`` files and the members of the
        ``extracts/<date>/batch-*.zip`` files, as ``<zip>/<member>``): bytes and mode."""
        return archive_files(self.warehouse.parent / "archive")


def archive_files(root: Path) -> dict[str, tuple[bytes, int]]:
    out: dict[str, tuple[bytes, int]] = {}
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = str(p.relative_to(root))
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as z:
                for info in z.infolist():
                    out[f"{rel}/{info.filename}"] = (z.read(info), (info.external_attr >> 16) & 0o777)
        else:
            out[rel] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


def table_hashes(warehouse: Path) -> dict[str, str]:
    """A content hash per table of the raw and audit schemas (row order ignored)."""
    out = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'audit') ORDER BY 1, 2").fetchall()
        for schema, name in tables:
            cols = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                "AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()
                if c not in VOLATILE]
            collist = ", ".join(f'"{c}"' for c in cols)
            h = con.execute(
                f"SELECT count(*), coalesce(sum(hash(({collist}))), 0) FROM {schema}.{name}"
            ).fetchone()
            out[f"{schema}.{name}"] = f"{h[0]}:{h[1]}"
    return out


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env(tmp_path)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The long fuzz (marker ``fuzz``) runs only when asked for: ``pytest -m fuzz``."""
    expr = config.getoption("markexpr") or ""
    if "fuzz" in expr.replace("not fuzz", ""):
        return
    skip = pytest.mark.skip(reason="the long fuzz runs with: pytest -m fuzz")
    for item in items:
        if "fuzz" in item.keywords:
            item.add_marker(skip)
