"""grassroots_daily — the nightly warehouse run as an Airflow 3 DAG (TaskFlow; wiring only).

Every morning at 07:00 Asia/Shanghai the run with logical date D processes business date D-1:

    sources ─► pull (one mapped sensor per registered source) ─► record_pulls ─►
    wait_for_deliveries ─► ingest ─► validate_raw ─► dbt (cosmos: seeds, models, tests) ─►
    validate_marts (outlets: one Asset per mart) ─► publish_serving ─► send_report

Each ``pull`` poke copies the source's new or changed whole delivery folders into the landing
zone (``grassroots.pull``; the registry ``dags/sources.yml`` or GRASSROOTS_SOURCES) until every
expected facility it covers is complete or the cut-off; a source that cannot be reached is
recorded and reported, the others go on.

All logic is in the package (``grassroots.quality.steps``, ``grassroots.ingest``,
``grassroots.quality``, ``grassroots.alerts``, ``grassroots.publish``).  Configuration is the
environment: GRASSROOTS_HOME / _LANDING / _WAREHOUSE / _SERVING / _GX_DIR / _DATA_DOCS, the alert
channels GRASSROOTS_SMTP_* and GRASSROOTS_WEBHOOK_*, GRASSROOTS_CUTOFF (default 10:00, when the
sensor stops waiting), GRASSROOTS_START_DATE, GRASSROOTS_CATCHUP, GRASSROOTS_TASK_RETRIES (2)
and GRASSROOTS_RETRY_DELAY_MINUTES (5).  Backfill a range with
``airflow backfill create --dag-id grassroots_daily --from-date … --to-date …``.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, CronTriggerTimetable, PokeReturnValue, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from grassroots.alerts import on_task_failure
from grassroots.quality import steps
from grassroots.quality.checks import mart_names
from grassroots.settings import duckdb_memory_limit

REPO = Path(__file__).resolve().parent.parent
DBT_DIR = REPO / "dbt"
DBT_EXECUTABLE = os.environ.get("GRASSROOTS_DBT_EXECUTABLE") or str(Path(sys.executable).parent / "dbt")
SETTINGS = steps.Settings.from_env()
TZ = "Asia/Shanghai"

MART_ASSETS = [Asset(name=f"grassroots.marts.{m}", uri=f"grassroots://warehouse/marts/{m}",
                     group="grassroots") for m in mart_names()]
SERVING_ASSET = Asset(name="grassroots.serving", uri="grassroots://serving", group="grassroots")

default_args = {
    "owner": "grassroots",
    "retries": int(os.environ.get("GRASSROOTS_TASK_RETRIES", "2")),
    "retry_delay": timedelta(minutes=float(os.environ.get("GRASSROOTS_RETRY_DELAY_MINUTES", "5"))),
    "execution_timeout": timedelta(hours=2),
    "on_failure_callback": on_task_failure,
}


@dag(
    dag_id="grassroots_daily",
    schedule=CronTriggerTimetable("0 7 * * *", timezone=TZ),
    start_date=pendulum.parse(os.environ.get("GRASSROOTS_START_DATE", "2025-01-01"), tz=TZ),
    catchup=os.environ.get("GRASSROOTS_CATCHUP", "false").lower() in ("1", "true", "yes"),
    max_active_runs=1,
    default_args=default_args,
    dagrun_timeout=timedelta(hours=8),
    tags=["grassroots", "warehouse", "data-quality"],
    doc_md=__doc__,
)
def grassroots_daily():
    @task
    def sources() -> list[dict]:
        return steps.registered_sources()

    @task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule", soft_fail=False,
                 execution_timeout=None,
                 map_index_template="{{ task.op_kwargs['source']['name'] }}")
    def pull(source: dict, **context) -> PokeReturnValue:
        """Pull the source's new whole folders; done when its facilities are in, or at cut-off."""
        r = steps.run_pull(source, steps.business_date(context["logical_date"]))
        return PokeReturnValue(is_done=r["done"], xcom_value=r)

    # after every pull (some may have failed, none may be registered)
    @task(trigger_rule="all_done", execution_timeout=timedelta(minutes=10))
    def record_pulls() -> dict:
        return steps.run_record_pulls()

    @task.sensor(poke_interval=600, timeout=6 * 3600, mode="reschedule", soft_fail=False,
                 execution_timeout=None)
    def wait_for_deliveries(**context) -> PokeReturnValue:
        """Expected facilities without a complete folder yet; done when none or at the cut-off."""
        a = steps.wait_for_deliveries(steps.business_date(context["logical_date"]))
        return PokeReturnValue(is_done=a.done, xcom_value=a.to_dict())

    @task(execution_timeout=timedelta(hours=2))
    def ingest(arrivals: dict, **context) -> dict:
        return steps.run_ingest(steps.business_date(context["logical_date"]))

    @task(execution_timeout=timedelta(minutes=30))
    def validate_raw(loaded: dict, **context) -> dict:
        return steps.run_validate_raw(steps.business_date(context["logical_date"]))

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            DBT_DIR, env_vars={"GRASSROOTS_WAREHOUSE": str(SETTINGS.warehouse.resolve()),
                               "GRASSROOTS_DUCKDB_MEMORY_LIMIT": duckdb_memory_limit()},
            install_dbt_deps=False),  # the project has no packages
        profile_config=ProfileConfig(profile_name="grassroots", target_name="duckdb",
                                     profiles_yml_filepath=DBT_DIR / "profiles.yml"),
        # One `dbt build` (the watcher's producer) in a subprocess of this environment's dbt;
        # every model, seed and test is a task that reports that build's result for its node.
        execution_config=ExecutionConfig(execution_mode=ExecutionMode.WATCHER,
                                         invocation_mode=InvocationMode.SUBPROCESS,
                                         dbt_executable_path=DBT_EXECUTABLE),
        render_config=RenderConfig(load_method=LoadMode.DBT_LS,
                                   invocation_mode=InvocationMode.SUBPROCESS,
                                   dbt_executable_path=DBT_EXECUTABLE,
                                   test_behavior=TestBehavior.AFTER_EACH,
                                   # the unit tests check the SQL, in CI; a night runs the data tests
                                   exclude=["resource_type:unit_test"]),
        operator_args={"emit_datasets": False, "deferrable": False,
                       "mode": "reschedule", "poke_interval": 5},
    )

    @task(outlets=MART_ASSETS, execution_timeout=timedelta(minutes=30))
    def validate_marts(**context) -> dict:
        return steps.run_validate_marts(steps.business_date(context["logical_date"]))

    @task(outlets=[SERVING_ASSET], execution_timeout=timedelta(minutes=30))
    def publish_serving(marts: dict) -> str | None:
        return steps.run_publish()

    @task(execution_timeout=timedelta(minutes=10))
    def send_report(arrivals: dict, raw: dict, marts: dict, serving: str | None,
                    **context) -> dict:
        return steps.run_report(steps.business_date(context["logical_date"]), arrivals, raw,
                                marts)

    arrivals = wait_for_deliveries()
    pull.expand(source=sources()) >> record_pulls() >> arrivals
    raw = validate_raw(ingest(arrivals))
    marts = validate_marts()
    raw >> dbt >> marts
    send_report(arrivals, raw, marts, publish_serving(marts))


grassroots_daily()
