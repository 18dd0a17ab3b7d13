"""Run the suites with Great Expectations 1.x on pandas DataFrames read from the warehouse.

GX's SQL datasource does not work on DuckDB (every expectation fails on duckdb-engine), so every table is read with
``duckdb.connect(path, read_only=True)`` into a DataFrame and validated through a pandas
datasource: one dataframe asset, whole-dataframe batch definition, validation definition and
checkpoint per suite.  The GX project is a file context (``GRASSROOTS_GX_DIR``, default
``<GRASSROOTS_HOME>/gx``); a suite is re-created from ``expectations/suites/*.json`` only when
its definition changed.  Data Docs (``GRASSROOTS_DATA_DOCS``, default
``<GRASSROOTS_HOME>/data_docs``) are built once per layer for that run's results — not by an
``UpdateDataDocsAction`` per checkpoint, which rebuilt the index once per suite.  Great
Expectations is imported lazily (≈10 s) and quietly.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd

from grassroots import settings
from grassroots.contract import DAILY
from grassroots.quality import checks, reconcile
from grassroots.quality.result import Failure, Outlier, QualityResult

log = logging.getLogger(__name__)

SITE = "grassroots"
DATASOURCE = "grassroots_frames"
# bump when the way suites become checkpoints changes: every suite is then re-created
_LAYOUT_VERSION = 2


def home_dir() -> Path:
    return settings.home()


def gx_dir() -> Path:
    return Path(os.environ.get("GRASSROOTS_GX_DIR") or home_dir() / "gx")


def data_docs_dir() -> Path:
    return Path(os.environ.get("GRASSROOTS_DATA_DOCS") or home_dir() / "data_docs")


def _import_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    for name in ("great_expectations", "great_expectations._docs_decorators"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
    return gx


class Runner:
    """A GX file context with the project's suites, validating DataFrames suite by suite."""

    def __init__(self, root: Path | None = None, docs: Path | None = None,
                 suites: list[dict] | None = None) -> None:
        self.gx = _import_gx()
        from great_expectations.expectations.expectation_configuration import (
            ExpectationConfiguration,
        )

        self._conf = ExpectationConfiguration
        self.root = Path(root or gx_dir())
        self.docs = Path(docs or data_docs_dir())
        self.root.mkdir(parents=True, exist_ok=True)
        self.docs.mkdir(parents=True, exist_ok=True)
        self.ctx = self.gx.get_context(mode="file", project_root_dir=str(self.root))
        if self.ctx.variables.config_variables_file_path:
            # GX parses this YAML file (it holds only an analytics id) on every lookup of a
            # context variable: ≈ 500 parses and 2 s of every validation run
            self.ctx.variables.config_variables_file_path = None
            self.ctx.variables.save()
            self.ctx = self.gx.get_context(mode="file", project_root_dir=str(self.root))
        try:
            self.ctx.variables.progress_bars = {"globally": False}
            self.ctx.variables.save()
        except Exception:  # noqa: BLE001 — cosmetic only
            pass
        sites = self.ctx.get_config().data_docs_sites or {}
        wanted = {
            "class_name": "SiteBuilder",
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend",
                              "base_directory": str(self.docs)},
            # the index lists the latest results only (about two runs of every suite): it is
            # rebuilt on every run, so its cost must not grow with history
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder",
                                   "validation_results_limit": 100},
        }
        if SITE not in sites:
            self.ctx.add_data_docs_site(SITE, wanted)
        elif json.dumps(sites[SITE], sort_keys=True, default=str) != json.dumps(
                wanted, sort_keys=True):
            self.ctx.update_data_docs_site(SITE, wanted)
        try:
            self.source = self.ctx.data_sources.get(DATASOURCE)
        except Exception:  # noqa: BLE001
            self.source = self.ctx.data_sources.add_pandas(DATASOURCE)
        self.suite_defs = {s["name"]: s for s in (suites if suites is not None
                                                   else checks.load_suites())}
        self._checkpoints: dict[str, object] = {}
        self._pending: list = []  # result ids whose Data Docs pages are not built yet
        self._created: set[str] = set()  # suites (re)written by this runner: their pages too

    def _checkpoint(self, name: str):
        """The suite's checkpoint, reusing what the file context already holds.

        The suite is (re)written only when its definition changed (a fingerprint in its meta):
        re-adding every suite, its validation definitions and checkpoints on every run cost more
        than validating the data.
        """
        if name in self._checkpoints:
            return self._checkpoints[name]
        gx = self.gx
        spec = self.suite_defs[name]
        fingerprint = hashlib.sha256(json.dumps(
            [spec, _LAYOUT_VERSION], sort_keys=True, default=str).encode()).hexdigest()
        try:
            current = self.ctx.checkpoints.get(f"cp.{name}")
            if self.ctx.suites.get(name).meta.get("fingerprint") == fingerprint:
                self._checkpoints[name] = current
                return current
        except Exception:  # noqa: BLE001 — absent or unreadable: (re)create below
            pass
        # every expectation given to the constructor (add_expectation_configuration upserts by
        # domain and would merge two range checks of one column)
        suite = gx.ExpectationSuite(
            name=name, meta={**spec.get("meta", {}), "fingerprint": fingerprint},
            expectations=[self._conf(type=e["type"], kwargs=dict(e["kwargs"]),
                                     meta=dict(e["meta"])).to_domain_obj()
                          for e in spec["expectations"]])
        for factory, key in ((self.ctx.checkpoints, f"cp.{name}"),
                             (self.ctx.validation_definitions, f"vd.{name}"),
                             (self.ctx.suites, name)):
            try:
                factory.delete(key)
            except Exception:  # noqa: BLE001 — not there
                pass
        suite = self.ctx.suites.add(suite)
        try:
            asset = self.source.get_asset(name)
        except LookupError:
            asset = self.source.add_dataframe_asset(name)
        try:
            batch_def = asset.get_batch_definition("whole")
        except (KeyError, LookupError, ValueError):
            batch_def = asset.add_batch_definition_whole_dataframe("whole")
        vd = self.ctx.validation_definitions.add(
            gx.ValidationDefinition(name=f"vd.{name}", data=batch_def, suite=suite))
        # no UpdateDataDocsAction here: it rebuilds the site index per suite; Data Docs are
        # built once per layer for all of its results (:meth:`build_docs`)
        cp = self.ctx.checkpoints.add(gx.Checkpoint(
            name=f"cp.{name}", validation_definitions=[vd], actions=[],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 10},
        ))
        self._checkpoints[name] = cp
        self._created.add(name)
        return cp

    def build_docs(self) -> None:
        """Render the pages of the results validated since the last call, and the index."""
        result_ids, self._pending = self._pending, []
        if not result_ids:
            return
        from great_expectations.data_context.types.resource_identifiers import (
            ExpectationSuiteIdentifier,
        )

        # a suite's page changes only with the suite: rendered when it was (re)written or its
        # page is missing, not on every run
        names = {r.expectation_suite_identifier.name for r in result_ids}
        suites = {ExpectationSuiteIdentifier(name=n) for n in names
                  if n in self._created or not self.suite_page(n).is_file()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.ctx.build_data_docs(site_names=[SITE],
                                     resource_identifiers=[*result_ids, *suites])

    def validate(self, name: str, df: pd.DataFrame) -> tuple[int, list[Failure]]:
        """Run suite ``name`` on ``df``; returns (expectations evaluated, failures incl. warnings)."""
        spec = self.suite_defs[name]
        by_id = {checks.check_id(spec, e): e for e in spec["expectations"]}
        cp = self._checkpoint(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = cp.run(batch_parameters={"dataframe": _for_gx(df)})
        self._pending.extend(res.run_results.keys())
        out: list[Failure] = []
        n = 0
        for vr in res.run_results.values():
            for r in vr.results:
                n += 1
                error = _error_message(r.exception_info)
                if r.success and error is None:
                    continue
                cfg = r.expectation_config
                e = {"type": cfg.type, "kwargs": {k: v for k, v in cfg.kwargs.items()
                                                  if k != "batch_id"}}
                meta = dict(cfg.meta or {})
                cid = meta.get("check_id") or checks.check_id(spec, e)
                meta = by_id.get(cid, {}).get("meta", meta)
                out.append(_failure(name, cid, e, meta, r.result or {}, error))
        return n, out

    def index(self) -> Path:
        return self.docs / "index.html"

    def suite_page(self, name: str) -> Path:
        """The suite's Data Docs page (GX turns the dots of the name into folders)."""
        return self.docs / "expectations" / Path(*name.split(".")).with_suffix(".html")


def _error_message(info) -> str | None:
    """The exception message of an errored expectation (GX nests it per metric), else None."""
    if not info:
        return None
    if isinstance(info, dict) and "raised_exception" in info:
        return (info.get("exception_message") or "raised an exception") if info[
            "raised_exception"] else None
    msgs = []
    for v in (info.values() if isinstance(info, dict) else []):
        if isinstance(v, dict) and v.get("raised_exception"):
            msgs.append(str(v.get("exception_message") or "raised an exception"))
        elif hasattr(v, "raised_exception") and v.raised_exception:
            msgs.append(str(getattr(v, "exception_message", "raised an exception")))
    return "; ".join(dict.fromkeys(msgs)) or None


def _failure(suite: str, cid: str, e: dict, meta: dict, result: dict, error: str | None) -> Failure:
    kw = e["kwargs"]
    target = kw.get("column") or ",".join(kw.get("column_list", []) or []) or (
        f"{kw.get('column_A')},{kw.get('column_B')}" if "column_A" in kw else "table")
    if error:
        observed = f"error: {error}"
    elif "observed_value" in result and result["observed_value"] is not None:
        observed = str(result["observed_value"])
    else:
        cnt = result.get("unexpected_count")
        pct = result.get("unexpected_percent")
        observed = f"{cnt} unexpected" + (f" ({pct:.2f}%)" if pct is not None else "")
    sample = [str(v) for v in (result.get("partial_unexpected_list") or [])[:5]]
    return Failure(
        suite=suite, check_id=cid, expectation=e["type"], target=target,
        category=meta.get("category", "?"), subcategory=meta.get("subcategory", "?"),
        # an errored expectation always counts as a failure, whatever its severity
        severity="error" if error else meta.get("severity", "error"),
        observed=observed, unexpected_count=result.get("unexpected_count"), sample=sample,
        error=error,
    )


def _for_gx(df: pd.DataFrame) -> pd.DataFrame:
    """pandas 3 ``str`` columns → ``object`` (GX's type check and regex handle those)."""
    df = df.copy()
    for c in df.columns:
        if pd.api.types.is_string_dtype(df[c].dtype) and df[c].dtype != object:
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


# ---------------------------------------------------------------------------------------------
# Reading the warehouse


def _connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(warehouse), read_only=True,
                          config={"memory_limit": settings.duckdb_memory_limit()})


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {f"{s}.{t}" for s, t in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}


def _missing_table(suite: dict, table: str | None = None) -> Failure:
    e = suite["expectations"][0]
    return Failure(suite=suite["name"], check_id=checks.check_id(suite, e), expectation=e["type"],
                   target="table", category="conformance", subcategory="value",
                   severity="error", observed=f"table {table or suite['name']} does not exist")


def _result(layer: str, runner: Runner, bd: date | None) -> QualityResult:
    return QualityResult(layer=layer, success=True,
                         business_date=bd.isoformat() if bd else None,
                         data_docs=str(runner.index()))


def _collect(res: QualityResult, suite: str, n: int, fails: list[Failure]) -> None:
    res.suites.append(suite)
    res.evaluated += n
    for f in fails:
        (res.failures if f.severity == "error" else res.warnings).append(f)
    res.success = not res.failures


def _latest_business_date(con: duckdb.DuckDBPyConnection) -> date | None:
    if "raw.outpatient_visits" not in _tables(con):
        return None
    return con.execute("SELECT max(_business_date) FROM raw.outpatient_visits").fetchone()[0]


def _raw_frame(con: duckdb.DuckDBPyConnection, suite: dict, bd: date | None) -> pd.DataFrame:
    frame = suite["meta"]["frame"]
    if bd is None and frame != "columns":  # nothing loaded yet: no delivery to look at
        return pd.DataFrame({e["kwargs"]["column"]: [] for e in suite["expectations"]})
    return reconcile.FRAMES[frame](con, bd)


def validate_raw(warehouse: Path, business_date: date | None = None, *,
                 runner: Runner | None = None) -> QualityResult:
    """Validate the raw layer: every table's columns against the contract, and each facility's
    delivery of ``business_date`` (default: the latest loaded) against its other datasets of
    the day and its own recent history."""
    runner = runner or Runner()
    res = _result("raw", runner, business_date)
    with _connect(Path(warehouse)) as con:
        tables = _tables(con)
        bd = business_date or _latest_business_date(con)
        for suite in checks.load_suites("raw"):
            name = suite["name"]
            # the columns check reports missing tables itself; the others read the daily tables
            needs = [] if suite["meta"]["frame"] == "columns" else [
                f"raw.{ds.name}" for ds in DAILY]
            missing = [t for t in needs if t not in tables]
            if missing:
                _collect(res, name, 1, [_missing_table(suite, missing[0])])
                continue
            n, fails = runner.validate(name, _raw_frame(con, suite, bd))
            _collect(res, name, n, fails)
    runner.build_docs()
    return res


def validate_marts(warehouse: Path, business_date: date | None = None, *,
                   runner: Runner | None = None) -> QualityResult:
    """Validate every ``marts.mart_*`` table and run the day-over-day visit-volume outlier check
    for ``business_date`` (default: the latest visit date in the warehouse)."""
    runner = runner or Runner()
    res = _result("marts", runner, business_date)
    with _connect(Path(warehouse)) as con:
        tables = _tables(con)
        for suite in checks.load_suites("marts"):
            name = suite["name"]
            if name == checks.OUTLIER_SUITE:
                continue
            if name not in tables:
                _collect(res, name, 1, [_missing_table(suite)])
                continue
            # only the columns the suite bounds: a mart's other columns are dbt's to check
            cols = ", ".join(dict.fromkeys(f'"{e["kwargs"]["column"]}"'
                                            for e in suite["expectations"]))
            n, fails = runner.validate(name, con.execute(f"SELECT {cols} FROM {name}").df())
            _collect(res, name, n, fails)
        frame = visit_volume_zscores(con, business_date)
    n, fails = runner.validate(checks.OUTLIER_SUITE, frame)
    _collect(res, checks.OUTLIER_SUITE, n, fails)
    res.outliers = outliers_from(frame)
    runner.build_docs()
    return res


# ---------------------------------------------------------------------------------------------
# Day-over-day outlier check


def daily_visit_volume(con: duckdb.DuckDBPyConnection, since: date | None = None) -> pd.DataFrame:
    """Visits per facility and visit date (each visit once: its latest delivered version), from
    ``since`` on when given.

    Read from dbt's latest-wins visits (``int_outpatient_visits_current``) when the build has made
    them: only the window is read, where grouping every raw row by visit grew with history (1 s
    a night at 1 M residents after a year).  Before any build, from ``raw`` (the same rule)."""
    tables = _tables(con)
    if "intermediate.int_outpatient_visits_current" in tables:
        return con.execute("""
            SELECT facility_code, CAST(visit_time AS DATE) AS visit_date, count(*) AS visits
            FROM intermediate.int_outpatient_visits_current
            WHERE visit_time >= CAST(? AS TIMESTAMP)
            GROUP BY ALL ORDER BY 1, 2
        """, [since or date.min]).df()
    if "raw.outpatient_visits" not in tables:
        return pd.DataFrame({"facility_code": [], "visit_date": [], "visits": []})
    return con.execute("""
        WITH latest AS (
            SELECT facility_code, visit_id,
                   arg_max(CAST(visit_time AS DATE), (_business_date, _delivery_version)) AS d
            FROM raw.outpatient_visits GROUP BY facility_code, visit_id
        )
        SELECT facility_code, d AS visit_date, count(*) AS visits
        FROM latest WHERE d >= ? GROUP BY ALL ORDER BY 1, 2
    """, [since or date.min]).df()


def zscores(volume: pd.DataFrame, target: date, *, window: int = checks.OUTLIER_WINDOW_DAYS,
            min_history: int = checks.OUTLIER_MIN_HISTORY,
            min_mean: float = checks.OUTLIER_MIN_MEAN) -> pd.DataFrame:
    """z-score of each facility's visits on ``target`` against its previous ``window`` days.

    History = the facility's days with visits in [target - window, target - 1]; at least
    ``min_history`` of them, with at least ``min_mean`` visits a day on average, else the
    facility is not scored.  The standard deviation is floored
    at sqrt(mean) (Poisson noise) and 1 so that a flat history does not make any change infinite.
    """
    cols = ["facility_code", "visit_date", "visits", "history_days", "mean", "std", "z_score"]
    if volume.empty:
        return pd.DataFrame({c: [] for c in cols})
    v = volume.copy()
    v["visit_date"] = pd.to_datetime(v["visit_date"]).dt.date
    rows = []
    lo = target - timedelta(days=window)
    for fac, g in v.groupby("facility_code"):
        today = g[g.visit_date == target]
        if today.empty:
            continue
        hist = g[(g.visit_date >= lo) & (g.visit_date < target)]["visits"].astype(float)
        if len(hist) < min_history or hist.mean() < min_mean:
            continue
        mean, std = float(hist.mean()), float(hist.std(ddof=1))
        eff = max(std, mean ** 0.5, 1.0)
        x = int(today["visits"].iloc[0])
        rows.append([str(fac), target.isoformat(), x, len(hist), round(mean, 3), round(std, 3),
                     round((x - mean) / eff, 3)])
    return pd.DataFrame(rows, columns=cols)


def visit_volume_zscores(con: duckdb.DuckDBPyConnection,
                         business_date: date | None = None) -> pd.DataFrame:
    """z-scores of ``business_date`` (default: the latest visit date in the warehouse)."""
    if business_date is not None:  # only the date and its window are read
        return zscores(daily_visit_volume(
            con, business_date - timedelta(days=checks.OUTLIER_WINDOW_DAYS)), business_date)
    vol = daily_visit_volume(con)
    if vol.empty:
        return zscores(vol, date.today())
    return zscores(vol, pd.to_datetime(vol["visit_date"]).max().date())


def outliers_from(frame: pd.DataFrame, z: float = checks.OUTLIER_Z) -> list[Outlier]:
    out = []
    for r in frame.itertuples(index=False):
        if abs(r.z_score) > z:
            out.append(Outlier(facility_code=r.facility_code, date=str(r.visit_date),
                               visits=int(r.visits), mean=float(r.mean), std=float(r.std),
                               z_score=float(r.z_score), history_days=int(r.history_days)))
    return sorted(out, key=lambda o: -abs(o.z_score))
