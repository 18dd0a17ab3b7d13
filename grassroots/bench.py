"""Performance benchmark: ``grassroots bench``.

For each region size (residents over ``days`` business days) it measures, in one run so that the
ratios are fair:

* **raw scan** — the physical limit: DuckDB reads every raw CSV the pipeline loads once (typed
  ``read_csv``, every column counted, nothing written; the median of three timed reads);
* the **whole nightly job** on all but the last few days of history, stage by stage — ingestion,
  ``dbt build`` (split into model and test time from dbt's ``run_results.json``), the
  data-quality validations and the serving copy — with wall time, rows/s and peak memory (RSS of
  the stage's process and of its children, i.e. dbt);
* the **incremental nights**: the run for one new business date on top of 30 days of history and
  on top of 360 days (the DAG's call: ingest with its 7-day look-back, build, validations of that
  business date, publish), three times in ABBA order, a ratio each;
* the **heavy night** (largest size): the region's next 420 business dates (≈ 20 M rows at
  1 M residents) delivered in one run on top of its first year, from which the capacity is read;
* every **dashboard chart's query** (dataset SQL + the chart's columns, metrics, filters, order and
  row limit, as Superset would send it) against the serving file of the largest size;
* the **capacity** in rows per 30 minutes and per nightly window, from the heavy night.

Each stage runs in its own Python process (``python -m grassroots.bench _worker …``), with
``GRASSROOTS_MEMORY_LIMIT``, so that peak memory is that stage's own.  Results are rewritten after every measurement (``results.json``,
``results.md``), so a long run that is interrupted keeps what it measured; ``cost.png`` is drawn
at the end of each size.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from grassroots.ingest.discover import today_cst
from grassroots.settings import DUCKDB_SHARE, REPO

# every business date a bench delivers (a year, and the heavy night's further days) lies before
# the day it runs: the loader refuses business dates after today
START = date(2023, 1, 1)
HISTORY_SHORT, HISTORY_LONG = 30, 360
SHANGHAI_ROWS_PER_DAY = 18_000_000
# the heavy night: the largest region's next HEAVY_NIGHT_DAYS business dates (generated after its
# first year) delivered at once; at 1 M residents (≈ 47 k rows a business date after the first
# year) 420 of them are ≈ 20 M rows, more than Shanghai's day.  Its goal: within
# HEAVY_NIGHT_MINUTES
HEAVY_NIGHT_MINUTES = 30
HEAVY_NIGHT_DAYS = 420
INC_REPEATS = 3  # incremental nights after each history, a ratio each
STAGES = ("ingest", "build", "validate", "publish")
MEMORY_LIMIT = "4GB"  # GRASSROOTS_MEMORY_LIMIT of every stage
GOALS = {"pipeline_over_scan": 3.0, "incremental_ratio": 1.3, "chart_seconds": 1.0}
BENCH_KEY = "grassroots-bench-key-not-secret"

# DuckDB types for the raw scan (contract column types; booleans are 'Y'/'N' text)
_SCAN_TYPE = {"text": "VARCHAR", "bool": "VARCHAR"}


# ---------------------------------------------------------------------------------------------
# workers: one stage per process


def _rss_mb() -> dict[str, float]:
    # Linux carries ru_maxrss over fork and exec (a worker would report the bench's own peak);
    # VmHWM is this process's high-water mark since its exec
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                self_kb = int(line.split()[1])
    except OSError:
        pass
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"peak_rss_mb": round(self_kb / 1024, 1), "peak_child_rss_mb": round(child_kb / 1024, 1)}


def _size_mb(size: str) -> float:
    """A DuckDB size in MB of 2**20 bytes."""
    from grassroots.settings import size_bytes

    return size_bytes(size) / 2**20


def _scan_type(ds, name: str) -> str:
    try:
        c = ds.column(name)
    except KeyError:
        return "VARCHAR"
    return _SCAN_TYPE.get(c.type, c.duckdb_type)


def _files(landing: Path, date_from: date | None, date_to: date | None) -> dict[str, list[str]]:
    """Every daily CSV of the landing zone in the date range, by dataset, plus the reference."""
    from grassroots.contract import DAILY, REFERENCE

    out: dict[str, list[str]] = {ds.name: [] for ds in REFERENCE + DAILY}
    for ds in REFERENCE:
        p = landing / "reference" / f"{ds.name}.csv"
        if p.is_file():
            out[ds.name].append(str(p))
    names = {ds.name for ds in DAILY}
    root = landing / "extracts"
    for day in sorted(root.iterdir()) if root.is_dir() else []:
        try:
            bd = date.fromisoformat(day.name)
        except ValueError:
            continue
        if (date_from and bd < date_from) or (date_to and bd > date_to):
            continue
        for fac in sorted(day.iterdir()):
            for f in fac.glob("*.csv"):
                if f.stem in names:
                    out[f.stem].append(str(f))
    return out


def scan(landing: Path, date_to: date | None = None, repeat: int = 3) -> dict[str, Any]:
    """The physical limit: one typed read of every CSV, all columns aggregated, nothing written.

    Timed ``repeat`` times on warm files; ``seconds`` is the median (single reads of ~50,000
    small files varied by ±40 % on the 2-core VM, which made the job / scan ratio noise).
    """
    import statistics

    import duckdb

    from grassroots.contract import DATASETS

    files = _files(landing, None, date_to)
    con = duckdb.connect()
    nbytes = sum(os.path.getsize(p) for ps in files.values() for p in ps)
    # warm the page cache first: the pipeline's stages read the files warm, so must the limit
    warm = time.perf_counter()
    for ps in files.values():
        for p in ps:
            with open(p, "rb") as fh:
                while fh.read(1 << 20):
                    pass
    warm = time.perf_counter() - warm
    # files of one header together (optional columns may be absent); union_by_name would
    # sniff every file and costs ~10x more than the read itself
    queries: list[tuple[str, str, list[str]]] = []
    for name, paths in files.items():
        ds = DATASETS[name]
        groups: dict[str, list[str]] = {}
        for p in paths:
            with open(p, "rb") as fh:
                head = fh.readline().decode("utf-8-sig", "replace").strip()
            groups.setdefault(head, []).append(p)
        for head, ps in groups.items():
            names = [h.strip('"') for h in head.split(",")]
            cols = "{" + ", ".join(
                f"'{n}': '{_scan_type(ds, n)}'" for n in names) + "}"
            counts = ", ".join(f'count("{n}")' for n in names)
            queries.append((name, f"SELECT count(*), {counts} FROM read_csv(?, header = true, "
                            f"columns = {cols}, auto_detect = false, ignore_errors = true)", ps))
    runs: list[float] = []
    for _ in range(max(1, repeat)):
        rows: dict[str, int] = {name: 0 for name in files}
        t0 = time.perf_counter()
        for name, sql, ps in queries:
            rows[name] += int(con.execute(sql, [ps]).fetchone()[0])
        runs.append(time.perf_counter() - t0)
    return {"seconds": statistics.median(runs), "runs": runs, "warm_up_seconds": warm,
            "rows": sum(rows.values()), "rows_by_dataset": rows,
            "files": sum(len(v) for v in files.values()), "bytes": nbytes}


def _dbt_split(target: Path) -> dict[str, float]:
    """Seconds dbt spent in models, tests, seeds (sum of node execution times) and node count."""
    p = target / "run_results.json"
    if not p.is_file():
        return {}
    rr = json.loads(p.read_text())
    out: dict[str, float] = {"elapsed": rr.get("elapsed_time", 0.0)}
    for r in rr.get("results", []):
        kind = r["unique_id"].split(".")[0]
        out[kind + "_seconds"] = out.get(kind + "_seconds", 0.0) + float(r.get("execution_time") or 0)
        out[kind + "_nodes"] = out.get(kind + "_nodes", 0) + 1
    slow = sorted(rr.get("results", []), key=lambda r: -(r.get("execution_time") or 0))[:5]
    out["slowest"] = [[r["unique_id"].split(".")[-1], round(r.get("execution_time") or 0, 2)]
                      for r in slow]
    # every model's seconds: what grows with history shows in the incremental nights' difference
    out["models"] = {r["unique_id"].split(".")[-1]: round(r.get("execution_time") or 0, 3)
                     for r in rr.get("results", []) if r["unique_id"].startswith("model.")}
    return out


def stage(name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run one stage of the nightly job in this process; returns its measurements."""
    landing = Path(args["landing"]) if args.get("landing") else None
    warehouse = Path(args["warehouse"]) if args.get("warehouse") else None
    d = {k: (date.fromisoformat(args[k]) if args.get(k) else None)
         for k in ("date_from", "date_to", "business_date")}
    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    if name == "scan":
        out = scan(landing, d["date_to"])
    elif name == "ingest":
        from grassroots.ingest import ingest

        rep = ingest(landing, warehouse, key=BENCH_KEY.encode(), date_from=d["date_from"],
                     date_to=d["date_to"])
        out = {"rows": rep.rows_loaded, "rows_quarantined": rep.rows_quarantined,
               "statuses": dict(rep.statuses)}
    elif name == "build":
        from grassroots.build import build, work_dir

        build(warehouse)
        out = {"dbt": _dbt_split(work_dir(warehouse) / "target")}
    elif name == "validate":
        from grassroots import quality

        raw = quality.validate_raw(warehouse, d["business_date"])
        marts = quality.validate_marts(warehouse, d["business_date"])
        for res in (raw, marts):  # as the pipeline does: the results over time
            quality.record(warehouse, res)
        out = {"raw_success": bool(getattr(raw, "success", False)),
               "marts_success": bool(getattr(marts, "success", False))}
    elif name == "publish":
        from grassroots.publish import publish_serving

        publish_serving(warehouse, Path(args["serving"]))
        out = {"bytes": Path(args["serving"]).stat().st_size}
    elif name == "charts":
        out = chart_queries(Path(args["serving"]), repeat=int(args.get("repeat", 3)))
    else:
        raise ValueError(name)
    out["inner_seconds"] = time.perf_counter() - t0
    from grassroots.settings import memory_limit

    out["memory_limit"] = memory_limit()  # the limit this stage ran with
    out["loadavg_1m"] = os.getloadavg()[0]  # other work on the machine skews the timings
    out.update(_rss_mb())
    return out


_WAREHOUSES = ("long", "short")  # a size's two warehouses, after a long and a short history


def _warehouse(wdir: Path, tag: str) -> Path:
    """A size's warehouse file: <data>/wh-<residents>/<tag>.duckdb (its bare name is what the saved
    dbt parse is keyed by, so the warm-up parses these very names)."""
    if tag not in _WAREHOUSES:
        raise ValueError(f"unknown warehouse {tag!r}")
    return wdir / f"{tag}.duckdb"


def _serving(wh: Path) -> Path:
    """The read-only file a warehouse's job publishes (the charts are timed on it)."""
    return wh.with_name(wh.stem + "-serving.duckdb")


# What the stages import: read once before the first size, as the raw scan reads its files once
# before timing them.  Otherwise the first size alone pays for reading the libraries from disk
# (seconds for Great Expectations alone), which the later sizes do not.
_STAGE_IMPORTS = ("great_expectations", "dbt.cli.main", "dbt.adapters.duckdb", "pandas",
                  "grassroots.ingest", "grassroots.quality", "grassroots.publish")


def warm_code(env: dict[str, str], scratch: Path) -> float:
    """Import what the stages import in a throwaway process (the page cache keeps the files) and
    have dbt parse the project once, as a machine that has run the job before has (its saved
    parse serves every warehouse of the same name: ``grassroots.build``); returns the seconds."""
    t0 = time.perf_counter()
    scratch.mkdir(parents=True, exist_ok=True)
    code = (f"import importlib\nfor m in {_STAGE_IMPORTS!r}: importlib.import_module(m)\n"
            "from pathlib import Path\nfrom grassroots.build import _run\n"
            f"for wh in {[str(_warehouse(scratch, t)) for t in _WAREHOUSES]!r}:\n"
            "    _run(['parse'], Path(wh))")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, capture_output=True,
                   env=env)
    shutil.rmtree(scratch, ignore_errors=True)
    return time.perf_counter() - t0


def _run_worker(name: str, args: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "grassroots.bench", "_worker", name,
                           json.dumps(args)], capture_output=True, text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"bench stage {name} failed:\n{proc.stderr[-4000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # A job stage costs its whole process (start-up and imports included); the raw scan reports
    # its own timed reads (its warm-up read and repeats are not the limit).
    res["wall_seconds"] = wall
    res.setdefault("seconds", wall)
    return res


# ---------------------------------------------------------------------------------------------
# chart queries


_GRAIN = {"P1D": "day", "P1W": "week", "P1M": "month", "P3M": "quarter", "P1Y": "year"}


def chart_sql() -> list[tuple[str, str, str]]:
    """(dashboard, chart key, SQL) for every query of every chart, as Superset builds it from the
    assets, for the default range."""
    from grassroots.superset.authoring import DASHBOARDS, DS

    out = []
    for dash in DASHBOARDS:
        for c in dash.charts:
            ds = DS[c.ds]
            mexpr = {m.name: m.expr for m in ds.metrics}
            for q in c.queries:
                out.append((dash.key, c.key, _query_sql(ds.sql, q, mexpr)))
    return out


def _query_sql(dataset_sql: str, q: dict[str, Any], mexpr: dict[str, str]) -> str:
    cols, names = [], []
    for col in q["columns"]:
        if isinstance(col, dict):
            expr = col["sqlExpression"]
            grain = _GRAIN.get(col.get("timeGrain") or "")
            if grain:
                expr = f"date_trunc('{grain}', {expr})"
            cols.append(f"{expr} AS \"{col['label']}\"")
            names.append(f'"{col["label"]}"')
        else:
            cols.append(f'"{col}"')
            names.append(f'"{col}"')
    mets = [f"{m['sqlExpression']} AS \"{m['label']}\"" if isinstance(m, dict)
            else f"{mexpr.get(m, f'SUM({m})')} AS \"{m}\"" for m in q["metrics"] or []]
    where = []
    for f in q["filters"]:
        if f["op"] in ("==", "<="):
            val = f"'{f['val']}'" if isinstance(f["val"], str) else str(f["val"])
            where.append(f"\"{f['col']}\" {'=' if f['op'] == '==' else f['op']} {val}")
    grouped = q["metrics"] is not None and names
    order = q["orderby"]
    return (f"SELECT {', '.join(cols + mets)} FROM ({dataset_sql}) AS virtual_table"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + (f" GROUP BY {', '.join(names)}" if grouped else "")
            + (" ORDER BY " + ", ".join(f'"{o[0]}" {"ASC" if o[1] else "DESC"}' for o in order)
               if order else "")
            + f" LIMIT {q['row_limit'] or 10000}")


def chart_queries(serving: Path, repeat: int = 3) -> dict[str, Any]:
    """Time every chart's query on a fresh read-only connection (first run cold, then warm)."""
    import duckdb

    con = duckdb.connect(str(serving), read_only=True)
    charts = []
    for dash, key, sql in chart_sql():
        times = []
        rows = 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = len(con.execute(sql).fetchall())
            times.append(time.perf_counter() - t0)
        charts.append({"dashboard": dash, "chart": key, "first_seconds": times[0],
                       "median_seconds": statistics.median(times), "max_seconds": max(times),
                       "rows": rows})
    con.close()
    return {"charts": charts, "count": len(charts),
            "max_seconds": max(c["max_seconds"] for c in charts),
            "over_goal": [c["chart"] for c in charts if c["max_seconds"] >= GOALS["chart_seconds"]]}


# ---------------------------------------------------------------------------------------------
# the benchmark


def _landing(data: Path, residents: int, days: int, seed: int, log) -> tuple[Path, float | None]:
    """Generate (or reuse) the landing zone of one size."""
    land = data / f"land-{residents}"
    end = START + timedelta(days=days - 1)
    truth = land / "_generator" / "truth.json"
    if truth.is_file():
        s = json.loads(truth.read_text()).get("summary", {})
        if (s.get("residents"), s.get("start"), s.get("end"), s.get("seed")) == (
                residents, START.isoformat(), end.isoformat(), seed):
            return land, None
    from grassroots.generate import generate

    shutil.rmtree(land, ignore_errors=True)
    log(f"generating {residents} residents × {days} days into {land}")
    t0 = time.perf_counter()
    generate(land, residents=residents, start=START, end=end, seed=seed, progress=False)
    return land, time.perf_counter() - t0


class Bench:
    def __init__(self, out: Path, data: Path, log=print, *, memory_limit: str = MEMORY_LIMIT,
                 inc_repeats: int = INC_REPEATS) -> None:
        # absolute: dbt runs in dbt/ and its target path must still be found from here
        self.out, self.data, self.log = Path(out), Path(data).resolve(), log
        self.chart_size: int | None = None
        self.heavy_size: int | None = None  # the size that also gets the heavy night
        self.memory_limit, self.inc_repeats = memory_limit, max(1, inc_repeats)
        self.out.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        self.results: dict[str, Any] = {
            "started_at": datetime.now().isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "platform": platform.platform(),
                        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                           / 2**30, 1)},
            "goals": GOALS, "sizes": [], "charts": None, "capacity": None,
            # every stage runs with it: DuckDB's limit in the loader, dbt and the validations
            "memory_limit": memory_limit,
            "memory_limit_mb": _size_mb(memory_limit),
            "duckdb_share": DUCKDB_SHARE,
        }

    def save(self) -> None:
        self.results["updated_at"] = datetime.now().isoformat(timespec="seconds")
        (self.out / "results.json").write_text(json.dumps(self.results, indent=2, default=str))
        (self.out / "results.md").write_text(render_markdown(self.results))

    def env(self, tag: str) -> dict[str, str]:
        env = dict(os.environ)
        env["GRASSROOTS_HMAC_KEY"] = BENCH_KEY
        env["GRASSROOTS_MEMORY_LIMIT"] = self.memory_limit
        env["GRASSROOTS_HOME"] = str(self.data / "home")  # dbt's shared parse: the bench's own
        env["GRASSROOTS_GX_DIR"] = str(self.data / f"gx-{tag}")
        env["GRASSROOTS_DATA_DOCS"] = str(self.data / f"data-docs-{tag}")
        env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
        return env

    def job(self, tag: str, landing: Path, wh: Path, *, date_from=None, date_to=None,
            business_date=None) -> dict[str, Any]:
        """The nightly job, stage by stage (the calls of ``run_pipeline`` / the DAG)."""
        args = {"landing": str(landing), "warehouse": str(wh), "serving": str(_serving(wh)),
            "date_from": date_from and date_from.isoformat(),
            "date_to": date_to and date_to.isoformat(),
            "business_date": business_date and business_date.isoformat()}
        env = self.env(tag)
        res: dict[str, Any] = {}
        for st in STAGES:
            res[st] = _run_worker(st, args, env)
        res["total_seconds"] = sum(res[s]["seconds"] for s in STAGES)
        res["peak_rss_mb"] = max(max(r["peak_rss_mb"], r["peak_child_rss_mb"])
                                 for r in res.values() if isinstance(r, dict))
        return res

    def size(self, residents: int, days: int, seed: int) -> dict[str, Any]:
        # the heavy night's region has HEAVY_NIGHT_DAYS more business dates to deliver at once
        gen_days = days + (HEAVY_NIGHT_DAYS if residents == self.heavy_size else 0)
        landing, gen_s = _landing(self.data, residents, gen_days, seed, self.log)
        entry: dict[str, Any] = {"residents": residents, "days": days, "generate_seconds": gen_s}
        self.results["sizes"] = [s for s in self.results["sizes"] if s["residents"] != residents]
        self.results["sizes"].append(entry)
        self.results["sizes"].sort(key=lambda e: e["residents"])
        wdir = self.data / f"wh-{residents}"
        shutil.rmtree(wdir, ignore_errors=True)
        wdir.mkdir(parents=True)
        long_h = min(HISTORY_LONG, days - self.inc_repeats)
        short_h = min(HISTORY_SHORT, long_h)
        end_long = START + timedelta(days=long_h - 1)
        end_short = START + timedelta(days=short_h - 1)

        self.log(f"[{residents}] raw scan of {long_h} days")
        entry["scan"] = _run_worker("scan", {"landing": str(landing),
                                             "date_to": end_long.isoformat()}, self.env("scan"))
        self.save()

        self.log(f"[{residents}] full job: {long_h} days in one run")
        # validated like ``grassroots run``: the run's newest business date
        full = self.job(f"{residents}-long", landing, _warehouse(wdir, "long"), date_to=end_long,
                        business_date=end_long)
        entry["full"] = full
        rows = entry["scan"]["rows"]
        for k in ("ingest", "build", "validate", "publish"):
            full[k]["rows_per_second"] = rows / full[k]["seconds"]
        full["rows_per_second"] = rows / full["total_seconds"]
        entry["pipeline_over_scan"] = full["total_seconds"] / entry["scan"]["seconds"]
        entry["rows_per_day"] = rows / long_h
        self.save()
        if self.chart_size == residents:  # the serving file of the full job, before it changes
            self.charts(residents)

        entry["incremental"] = self.incremental(residents, landing, wdir, end_short, end_long)
        self.save()
        if residents == self.heavy_size:
            entry["heavy_night"] = self.heavy_night(residents, landing, wdir, end_long, gen_days)
            self.save()
        return entry

    def incremental(self, residents: int, landing: Path, wdir: Path, end_short: date,
                    end_long: date) -> dict[str, Any]:
        """The night's cost after a short and after a long history, ``inc_repeats`` times: night
        k loads business date end + k into both warehouses, in ABBA order (long, short, short,
        long, …) so that the machine's drift during the pair falls on both sides alike."""
        inc: dict[str, Any] = {"history_days": {"short": (end_short - START).days + 1,
                                                "long": (end_long - START).days + 1}}
        self.log(f"[{residents}] history of {inc['history_days']['short']} days")
        inc["short_history"] = self.job(f"{residents}-short", landing, _warehouse(wdir, "short"),
                                        date_to=end_short, business_date=end_short)
        nights = []
        for k in range(1, self.inc_repeats + 1):
            night: dict[str, Any] = {}
            order = ("long", "short") if k % 2 else ("short", "long")
            for tag in order:
                bd = (end_long if tag == "long" else end_short) + timedelta(days=k)
                self.log(f"[{residents}] incremental night {k}: {bd} after the {tag} history")
                job = self.job(f"{residents}-{tag}", landing, _warehouse(wdir, tag), date_to=bd,
                               date_from=bd - timedelta(days=7), business_date=bd)
                job["business_date"] = bd.isoformat()
                night[f"after_{tag}"] = job
            night["ratio"] = (night["after_long"]["total_seconds"]
                              / night["after_short"]["total_seconds"])
            nights.append(night)
            inc["nights"] = nights
            self.save()
        inc["ratios"] = [n["ratio"] for n in nights]
        inc["ratio"] = max(inc["ratios"])  # the goal holds for every night, so the worst counts
        # the stage breakdown and the capacity read the night of the median ratio
        mid = sorted(nights, key=lambda n: n["ratio"])[len(nights) // 2]
        inc["after_short"], inc["after_long"] = mid["after_short"], mid["after_long"]
        return inc

    def heavy_night(self, residents: int, landing: Path, wdir: Path, end_long: date,
                    days: int) -> dict[str, Any]:
        """A night that delivers the region's next HEAVY_NIGHT_DAYS business dates at once on top
        of the long history (as a catch-up after an outage, or a data centre's volume in one
        night), with the DAG's call as on any night."""
        wh = _warehouse(wdir, "long")
        first = end_long + timedelta(days=self.inc_repeats + 1)
        last = START + timedelta(days=days - 1)
        self.log(f"[{residents}] heavy night: {first} … {last} in one run")
        job = self.job(f"{residents}-long", landing, wh, date_from=first - timedelta(days=7),
                       date_to=last, business_date=last)
        rows = job["ingest"]["rows"] + job["ingest"]["rows_quarantined"]
        return {**job, "first_date": first.isoformat(), "last_date": last.isoformat(),
                "business_dates": (last - first).days + 1, "rows": rows,
                "rows_per_second": rows / job["total_seconds"],
                "within_minutes": HEAVY_NIGHT_MINUTES,
                "fits": job["total_seconds"] <= HEAVY_NIGHT_MINUTES * 60}

    def charts(self, residents: int) -> None:
        serving = _serving(_warehouse(self.data / f"wh-{residents}", "long"))
        self.log(f"[{residents}] chart queries on {serving}")
        res = _run_worker("charts", {"serving": str(serving)}, self.env("charts"))
        res["residents"] = residents
        self.results["charts"] = res
        self.save()

    def capacity(self, window_hours: float) -> None:
        """Rows a night can take, measured: the heavy night's cost against an ordinary night's
        on the same warehouse (a fixed part and a part per row, from those two points), read at
        30 minutes and at the nightly window.  Without a heavy night (smaller runs): the bulk
        job's throughput only."""
        sizes = [s for s in self.results["sizes"] if s.get("full")]
        if not sizes:
            return
        big = max(sizes, key=lambda s: s["residents"])
        cap: dict[str, Any] = {"window_hours": window_hours, "residents": big["residents"],
                               "shanghai_rows_per_day": SHANGHAI_ROWS_PER_DAY,
                               "full_job_rows_per_second": big["full"]["rows_per_second"]}
        heavy, inc = big.get("heavy_night"), big.get("incremental", {}).get("after_long")
        if heavy and inc:
            small_rows = inc["ingest"]["rows"] + inc["ingest"]["rows_quarantined"]
            per_row = ((heavy["total_seconds"] - inc["total_seconds"])
                       / max(heavy["rows"] - small_rows, 1))
            fixed = max(inc["total_seconds"] - per_row * small_rows, 0.0)
            cap.update({"fixed_seconds": fixed, "seconds_per_million_rows": per_row * 1e6,
                        "heavy_night_rows": heavy["rows"],
                        "heavy_night_seconds": heavy["total_seconds"]})
            for key, seconds in (("rows_per_30_minutes", 1800.0),
                                 ("rows_per_night", window_hours * 3600)):
                cap[key] = (seconds - fixed) / per_row if per_row > 0 else None
            cap["shanghai_share"] = (cap["rows_per_night"] or 0) / SHANGHAI_ROWS_PER_DAY
        self.results["capacity"] = cap
        self.save()


def run_bench(out: Path, data: Path, sizes: list[int], *, days: int = 365, seed: int = 42,
              charts: bool = True, window_hours: float = 6.0, plot: bool = True,
              order: str = "smallest", keep: bool = False, heavy: bool = True,
              memory_limit: str = MEMORY_LIMIT, inc_repeats: int = INC_REPEATS,
              log=print) -> dict[str, Any]:
    """Run the benchmark for every size (smallest first); returns the results dict.

    ``keep``: keep the other sizes' results of ``out/results.json`` (re-measure some sizes).
    ``heavy``: the largest size also gets the heavy night (its region is generated with a
    further HEAVY_NIGHT_DAYS business dates).  Every stage runs with ``GRASSROOTS_MEMORY_LIMIT=memory_limit``."""
    last = START + timedelta(days=days + (HEAVY_NIGHT_DAYS if heavy else 0) - 1)
    today = today_cst()
    if last >= today:
        raise ValueError(f"the regions would run to {last}, not before today ({today}): "
                         "the loader refuses business dates that have not ended yet")
    b = Bench(out, data, log, memory_limit=memory_limit, inc_repeats=inc_repeats)
    previous = Path(out) / "results.json"
    if keep and previous.is_file():
        old = json.loads(previous.read_text())
        b.results["sizes"] = [e for e in old.get("sizes", []) if e["residents"] not in sizes]
        b.results["charts"] = old.get("charts")
    b.results["params"] = {"sizes": sizes, "days": days, "seed": seed,
                           "window_hours": window_hours, "start": START.isoformat(),
                           "inc_repeats": b.inc_repeats, "heavy_night": heavy}
    # the charts are timed on the largest region of the results: re-measuring smaller sizes
    # with --keep leaves the kept largest size's chart timings alone
    largest = max([*sizes, *(e["residents"] for e in b.results["sizes"])])
    b.chart_size = max(sizes) if charts and max(sizes) >= largest else None
    b.heavy_size = max(sizes) if heavy else None
    b.results["code_warm_up_seconds"] = warm_code(b.env("warm-up"), b.data / "warm-up")
    # the largest size first when asked (``order="largest"``): its numbers matter most
    for n in sorted(sizes, reverse=(order == "largest")):
        b.size(n, days, seed)
        b.capacity(window_hours)
        if plot:
            draw(b.results, b.out / "cost.png")
    b.results["finished_at"] = datetime.now().isoformat(timespec="seconds")
    b.save()
    return b.results


# ---------------------------------------------------------------------------------------------
# reporting


def _warm_note(r: dict[str, Any]) -> str:
    w = r.get("code_warm_up_seconds")
    return "" if w is None else f" ({w:.1f} s)"


def _f(x: float | None, nd: int = 1) -> str:
    return "–" if x is None else f"{x:,.{nd}f}"


def _loads(r: dict[str, Any]) -> str:
    vals: list[float] = []

    def walk(x: Any) -> None:
        if isinstance(x, dict):
            if "loadavg_1m" in x:
                vals.append(x["loadavg_1m"])
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(r)
    return f"{min(vals):.1f}–{max(vals):.1f}" if vals else "n/a"


def _scan_repeats(r: dict[str, Any]) -> int:
    return max((len(s.get("scan", {}).get("runs", [0])) for s in r["sizes"]), default=1)


def _ratios(inc: dict[str, Any]) -> str:
    return " / ".join(_f(x, 2) for x in inc.get("ratios") or [inc["ratio"]])


def _size_row(s: dict[str, Any]) -> list[str]:
    sc, fu, inc = s["scan"], s.get("full"), s.get("incremental")
    row = [f"{s['residents']:,}", str(s["days"]), f"{sc['rows']:,}", _f(sc["bytes"] / 2**20, 0),
           _f(sc["seconds"]) + (f" ({min(sc['runs']):.1f}–{max(sc['runs']):.1f})"
                                if len(sc.get("runs", [])) > 1 else "")]
    if fu:
        dbt = fu["build"].get("dbt", {})
        row += [_f(fu["ingest"]["seconds"]),
                f"{_f(fu['build']['seconds'])} ({_f(dbt.get('model_seconds'))}/"
                f"{_f(dbt.get('test_seconds'))})",
                _f(fu["validate"]["seconds"]), _f(fu["publish"]["seconds"]),
                _f(fu["total_seconds"]), _f(fu["rows_per_second"], 0),
                _f(s["pipeline_over_scan"], 2), _f(fu["peak_rss_mb"], 0)]
    else:
        row += ["…"] * 8
    if inc and "ratio" in inc:
        row += [_f(inc["after_short"]["total_seconds"]), _f(inc["after_long"]["total_seconds"]),
                _ratios(inc)]
    else:
        row += ["…"] * 3
    return row


def _history_days(r: dict[str, Any]) -> tuple[int, int]:
    for s in r["sizes"]:
        h = s.get("incremental", {}).get("history_days")
        if h:
            return h["short"], h["long"]
    return HISTORY_SHORT, HISTORY_LONG


def _main_table(r: dict[str, Any]) -> list[str]:
    m = r["machine"]
    lines = [f"Machine: {m['cpus']} CPUs, {m['memory_gb']} GB RAM, Python {m['python']}; "
             f"run {r['started_at']} – {r.get('finished_at') or r.get('updated_at')}; "
             f"1-minute load average during the stages {_loads(r)} (above {m['cpus']} the "
             "timings include waiting for the CPU). Every stage ran with "
             f"GRASSROOTS_MEMORY_LIMIT={r.get('memory_limit', '–')}. The raw scan reads warm "
             "files (a read-through first), as the stages after it do, and is the median of "
             f"{_scan_repeats(r)} timed reads (their range in brackets: the noise of this "
             "machine); likewise the stages' libraries are read once before the first size"
             f"{_warm_note(r)}, when dbt also parses the project once, as on a machine that ran "
             "the job before (its saved parse serves every warehouse of the same name). "
             "Incremental nights: the median night's seconds, and the ratio of every night.", ""]
    short, long_ = _history_days(r)
    lines += ["| residents | days | CSV rows | CSV MB | raw scan s | ingest s | dbt build s "
              "(models/tests) | validate s | publish s | job s | job rows/s | job / scan "
              f"(≤ 3) | job peak MB | night after {short} d s | after {long_} d s | "
              "ratios (≤ 1.3) |",
              "|" + "---|" * 16]
    lines += ["| " + " | ".join(_size_row(s)) + " |" for s in r["sizes"] if s.get("scan")]
    return lines


def _incremental_table(r: dict[str, Any]) -> list[str]:
    inc_rows = [s for s in r["sizes"] if s.get("incremental", {}).get("ratio")]
    if not inc_rows:
        return []
    short, long_ = _history_days(r)
    lines = ["", f"Incremental night, by stage (seconds, after {short} days → after {long_} "
             "days; the median night):", "", "| residents | ingest | dbt build | validate | publish |",
             "|---|---|---|---|---|"]
    for s in inc_rows:
        i = s["incremental"]
        lines.append(f"| {s['residents']:,} | " + " | ".join(
            f"{_f(i['after_short'][k]['seconds'])} → {_f(i['after_long'][k]['seconds'])}"
            for k in STAGES) + " |")
    return lines


def _growth_lines(r: dict[str, Any], top: int = 6) -> list[str]:
    """The models whose seconds grew most from the night after 30 days to the night after 360
    (largest size, median night): where a night's cost still follows the history."""
    s = max((s for s in r["sizes"] if s.get("incremental", {}).get("ratio")),
            key=lambda s: s["residents"], default=None)
    if not s:
        return []
    short = s["incremental"]["after_short"]["build"].get("dbt", {}).get("models") or {}
    long_ = s["incremental"]["after_long"]["build"].get("dbt", {}).get("models") or {}
    grown = sorted(((long_[m] - short.get(m, 0.0), m) for m in long_), reverse=True)[:top]
    if not grown:
        return []
    short_d, long_d = _history_days(r)
    return ["", f"Models whose time grew most with history ({s['residents']:,} residents, "
            f"seconds after {short_d} → {long_d} days): " + ", ".join(
                f"{m} {_f(short.get(m, 0.0), 2)} → {_f(long_[m], 2)}" for _, m in grown) + "."]


def _memory_table(r: dict[str, Any]) -> list[str]:
    """Peak memory of every stage (its process, and dbt's for the build) against the limit."""
    limit = r.get("memory_limit_mb")
    jobs = [(f"{s['residents']:,} full job", s["full"]) for s in r["sizes"] if s.get("full")]
    big = max((s for s in r["sizes"] if s.get("heavy_night")), key=lambda s: s["residents"],
              default=None)
    if big:
        jobs.append((f"{big['residents']:,} heavy night", big["heavy_night"]))
    if not jobs:
        return []
    lines = ["", f"Peak memory (MB, resident set of the stage's process; dbt's own process for "
             f"the build) with a limit of {r.get('memory_limit', '–')} ({_f(limit, 0)} MB"
             + (f", of which DuckDB's memory_limit {r['duckdb_share']:.0%}" if r.get("duckdb_share")
                else "") + "):", "",
             "| job | ingest | dbt build | validate | publish | within the limit |",
             "|---|---|---|---|---|---|"]
    for label, job in jobs:
        peaks = [max(job[k]["peak_rss_mb"], job[k]["peak_child_rss_mb"]) for k in STAGES]
        ok = "yes" if limit and max(peaks) <= limit else "no"
        lines.append(f"| {label} | " + " | ".join(_f(x, 0) for x in peaks) + f" | {ok} |")
    return lines


def _heavy_lines(r: dict[str, Any]) -> list[str]:
    big = max((s for s in r["sizes"] if s.get("heavy_night")), key=lambda s: s["residents"],
              default=None)
    if not big:
        return []
    h = big["heavy_night"]
    return ["", f"Heavy night at {big['residents']:,} residents: {h['business_dates']} business "
            f"dates ({h['first_date']} … {h['last_date']}), {h['rows']:,} rows delivered at once "
            f"on top of {big['incremental']['history_days']['long'] + (r.get('params') or {}).get('inc_repeats', 1)} "
            f"days of history: {_f(h['total_seconds'])} s (" + ", ".join(
                f"{k} {_f(h[k]['seconds'])}" for k in STAGES)
            + f"), {_f(h['rows_per_second'], 0)} rows/s — "
            + ("within" if h["fits"] else "over") + f" {h['within_minutes']} minutes."]


def _capacity_lines(r: dict[str, Any]) -> list[str]:
    cap = r.get("capacity")
    if not cap:
        return []
    line = (f"Capacity: the bulk job at {cap['residents']:,} residents runs "
            f"{_f(cap['full_job_rows_per_second'], 0)} rows/s")
    if cap.get("rows_per_night"):
        line += (f"; a night costs ≈ {_f(cap['fixed_seconds'])} s + "
                 f"{_f(cap['seconds_per_million_rows'])} s per million rows (from an ordinary "
                 f"night and the heavy night on the same warehouse) → "
                 f"{_f(cap['rows_per_30_minutes'] / 1e6)} M rows in 30 minutes, "
                 f"{_f(cap['rows_per_night'] / 1e6)} M rows in a {cap['window_hours']:g}-hour "
                 f"window, i.e. {_f(cap['shanghai_share'], 1)} × the "
                 f"~{cap['shanghai_rows_per_day'] / 1e6:g} M records a day of Shanghai's data "
                 "centre")
    return ["", line + "."]


def _chart_lines(r: dict[str, Any]) -> list[str]:
    c = r.get("charts")
    if not c:
        return []
    lines = ["", f"Dashboard chart queries on the serving file at {c['residents']:,} residents: "
             f"{c['count']} charts, slowest {_f(c['max_seconds'], 3)} s "
             f"(goal < 1 s each; over goal: {', '.join(c['over_goal']) or 'none'}).", "",
             "| dashboard | chart | first s | median s | rows |", "|---|---|---|---|---|"]
    for ch in sorted(c["charts"], key=lambda x: -x["max_seconds"])[:10]:
        lines.append(f"| {ch['dashboard']} | {ch['chart']} | {_f(ch['first_seconds'], 3)} | "
                     f"{_f(ch['median_seconds'], 3)} | {ch['rows']} |")
    lines.append(f"| … | ({c['count'] - min(10, c['count'])} faster charts) | | | |")
    return lines


def render_markdown(r: dict[str, Any]) -> str:
    lines = (_main_table(r) + _incremental_table(r) + _growth_lines(r) + _memory_table(r)
             + _heavy_lines(r) + _chart_lines(r) + _capacity_lines(r))
    return "\n".join(lines) + "\n"


def draw(r: dict[str, Any], path: Path) -> None:
    """cost.png: seconds and peak memory against CSV rows (log–log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [s for s in r["sizes"] if s.get("full")]
    if not sizes:
        return
    x = [s["scan"]["rows"] / 1e6 for s in sizes]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = {
        "raw scan (physical limit)": [s["scan"]["seconds"] for s in sizes],
        "ingest": [s["full"]["ingest"]["seconds"] for s in sizes],
        "dbt build": [s["full"]["build"]["seconds"] for s in sizes],
        "whole job": [s["full"]["total_seconds"] for s in sizes],
        "3 × raw scan (goal)": [3 * s["scan"]["seconds"] for s in sizes],
    }
    inc = [s for s in sizes if s.get("incremental", {}).get("ratio")]
    for label, key in (("a night after the short history", "after_short"),
                       ("a night after the long history", "after_long")):
        if inc:
            ax.plot([s["scan"]["rows"] / 1e6 for s in inc],
                    [s["incremental"][key]["total_seconds"] for s in inc], "o:", label=label)
    for label, ys in series.items():
        ax.plot(x, ys, "--" if "goal" in label else "o-", label=label)
    ax.set(xscale="log", yscale="log", xlabel="CSV rows in history (millions)", ylabel="seconds",
           title="Cost against size (2 CPUs)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    ax2.plot(x, [s["full"]["ingest"]["peak_rss_mb"] for s in sizes], "o-", label="ingest")
    ax2.plot(x, [s["full"]["build"]["peak_child_rss_mb"] for s in sizes], "o-", label="dbt build")
    ax2.plot(x, [s["full"]["validate"]["peak_rss_mb"] for s in sizes], "o-", label="validate")
    ax2.plot(x, [s["scan"]["peak_rss_mb"] for s in sizes], "o-", label="raw scan")
    if r.get("memory_limit_mb"):
        ax2.axhline(r["memory_limit_mb"], color="grey", linestyle="--",
                    label=f"GRASSROOTS_MEMORY_LIMIT={r['memory_limit']}")
    ax2.set(xscale="log", xlabel="CSV rows in history (millions)", ylabel="peak RSS (MB)",
            title="Peak memory")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _main(argv: list[str]) -> None:
    if len(argv) >= 3 and argv[0] == "_worker":
        res = stage(argv[1], json.loads(argv[2]))
        print(json.dumps(res, default=str))
        return
    raise SystemExit("usage: grassroots bench (see grassroots bench --help)")


if __name__ == "__main__":
    _main(sys.argv[1:])
