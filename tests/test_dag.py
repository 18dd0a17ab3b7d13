"""The DAG file imports cleanly and has the intended structure."""

from __future__ import annotations

from datetime import datetime, timedelta

import dq_support  # noqa: F401 — sets AIRFLOW_HOME etc. before airflow is imported
import pytest

from grassroots.quality import steps
from grassroots.quality.checks import mart_names


@pytest.fixture(scope="module")
def dagbag():
    dq_support.migrate_airflow_db()
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dq_support.REPO / "dags"))


@pytest.fixture(scope="module")
def dag(dagbag):
    return dagbag.dags["grassroots_daily"]


def test_dagbag_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "grassroots_daily" in dagbag.dags


def test_schedule_timezone_and_run_policy(dag):
    tt = dag.timetable
    assert type(tt).__name__ == "CronTriggerTimetable"
    assert tt.expression == "0 7 * * *"
    assert "Asia/Shanghai" in str(tt.timezone)
    assert "Asia/Shanghai" in str(getattr(dag.timezone, "name", dag.timezone))
    assert dag.max_active_runs == 1
    assert dag.catchup is False  # backfill explicitly (airflow backfill create); GRASSROOTS_CATCHUP
    assert dag.dagrun_timeout == timedelta(hours=8)


def test_tasks_and_order(dag):
    ids = set(dag.task_ids)
    main = ["wait_for_deliveries", "ingest", "validate_raw", "validate_marts", "publish_serving",
            "send_report"]
    assert set(main) <= ids
    t = dag.get_task
    assert t("ingest").upstream_task_ids == {"wait_for_deliveries"}
    assert t("validate_raw").upstream_task_ids == {"ingest"}
    assert t("send_report").upstream_task_ids == {"wait_for_deliveries", "validate_raw",
                                                  "validate_marts", "publish_serving"}
    assert t("publish_serving").upstream_task_ids == {"validate_marts"}
    dbt = [i for i in ids if i.startswith("dbt.")]
    assert "dbt.dbt_producer_watcher" in dbt
    # every dbt node is a task, tests included (TestBehavior.AFTER_EACH)
    assert any(i.endswith(".test") for i in dbt)
    # ... but not the unit tests: they check the SQL in CI, not the night's data
    assert "resource_type:unit_test" in (producer_exclude := t("dbt.dbt_producer_watcher").exclude)
    assert not any("unit_test" in i for i in dbt), producer_exclude
    for m in ("mart_delivery_quality", "mart_grassroots_visits", "mart_bed_utilization"):
        assert any(i.startswith(f"dbt.{m}") for i in dbt), m
    # the dbt group sits between the raw and the mart validations
    assert "validate_raw" in t("dbt.dbt_producer_watcher").upstream_task_ids
    assert all(i.startswith("dbt.") for i in t("validate_marts").upstream_task_ids)
    producer = t("dbt.dbt_producer_watcher")
    assert producer.invocation_mode.name == "SUBPROCESS"
    assert producer.dbt_executable_path.endswith("/dbt")


def test_retries_timeouts_and_failure_alerts(dag):
    from grassroots.alerts import on_task_failure

    for task in dag.tasks:
        assert task.retries >= 2, task.task_id
        assert task.retry_delay == timedelta(minutes=5)
        cbs = task.on_failure_callback
        cbs = cbs if isinstance(cbs, list) else [cbs]
        assert on_task_failure in cbs, task.task_id
    for tid in ("ingest", "validate_raw", "validate_marts", "publish_serving", "send_report"):
        assert dag.get_task(tid).execution_timeout is not None
    sensor = dag.get_task("wait_for_deliveries")
    assert sensor.mode == "reschedule" and sensor.soft_fail is False
    assert sensor.timeout == 6 * 3600


def test_mart_assets_are_outlets(dag):
    outlets = {a.name for a in dag.get_task("validate_marts").outlets}
    assert outlets == {f"grassroots.marts.{m}" for m in mart_names()}
    assert {a.name for a in dag.get_task("publish_serving").outlets} == {"grassroots.serving"}


def test_business_date_is_the_day_before_in_china_time():
    from zoneinfo import ZoneInfo

    utc = ZoneInfo("UTC")
    # the 07:00 Shanghai run of 2025-03-21 is 23:00 UTC on 2025-03-20
    assert str(steps.business_date(datetime(2025, 3, 20, 23, 0, tzinfo=utc))) == "2025-03-20"
    assert str(steps.business_date("2025-03-21T07:00:00+08:00")) == "2025-03-20"


def test_pull_tasks_come_before_the_sensor(dag):
    t = dag.get_task
    pull = t("pull")
    assert type(pull).__name__.endswith("MappedOperator")  # one task per registered source
    assert pull.upstream_task_ids == {"sources"}
    assert pull.partial_kwargs.get("mode", getattr(pull, "mode", None)) == "reschedule"
    assert t("record_pulls").upstream_task_ids == {"pull"}
    assert t("record_pulls").trigger_rule == "all_done"  # after failed or skipped pulls too
    assert t("wait_for_deliveries").upstream_task_ids == {"record_pulls"}
