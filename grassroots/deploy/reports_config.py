"""Superset's Alerts & Reports settings, read by both Superset configurations.

The demo's generated ``superset_config.py`` (``grassroots.superset.reports.config_block``) and the
Compose one (``grassroots/deploy/superset_config.py``) call :func:`settings` and merge the result.
One configuration place for mail: the ``GRASSROOTS_SMTP_*`` variables of the daily data-quality
message (``grassroots/alerts.py``) are Superset's ``SMTP_*`` too.

Standard library only at import time (the Superset image imports this package without the
pipeline's dependencies); celery is imported inside :func:`settings`, in Superset's interpreter.
"""

from __future__ import annotations

import os
from datetime import timedelta

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium and chromium-driver
CHROMEDRIVER = "/usr/bin/chromedriver"
BEAT_EXPIRES = int(timedelta(weeks=1).total_seconds())  # = Superset's CELERY_BEAT_SCHEDULER_EXPIRES


def smtp_settings(env: dict[str, str] | None = None) -> dict:
    """Superset's ``SMTP_*`` from the data-quality message's ``GRASSROOTS_SMTP_*``."""
    e = os.environ if env is None else env
    tls = (e.get("GRASSROOTS_SMTP_TLS") or "none").lower()
    if tls not in ("none", "starttls", "ssl"):
        raise ValueError(f"GRASSROOTS_SMTP_TLS must be none, starttls or ssl, not {tls!r}")
    user = e.get("GRASSROOTS_SMTP_USER") or None
    return {
        "SMTP_HOST": e.get("GRASSROOTS_SMTP_HOST") or "localhost",
        "SMTP_PORT": int(e.get("GRASSROOTS_SMTP_PORT") or 25),
        "SMTP_STARTTLS": tls == "starttls",
        "SMTP_SSL": tls == "ssl",
        "SMTP_SSL_SERVER_AUTH": tls != "none",
        # no login unless a user is configured (Superset logs in when both are set)
        "SMTP_USER": user,
        "SMTP_PASSWORD": (e.get("GRASSROOTS_SMTP_PASSWORD") or None) if user else None,
        "SMTP_MAIL_FROM": e.get("GRASSROOTS_SMTP_FROM") or "grassroots@localhost",
    }


def celery_config(broker_url: str, queue: str) -> type:
    try:
        from celery.schedules import crontab
    except ImportError:  # read outside Superset's interpreter (tests comparing configurations)
        crontab = dict  # noqa: N806

    class CeleryConfig:  # the shape Superset expects (CELERY_CONFIG is a class)
        broker_url = ""
        result_backend = ""
        imports = ("superset.sql_lab", "superset.tasks.scheduler", "superset.tasks.thumbnails",
                   "superset.tasks.cache")
        worker_prefetch_multiplier = 1
        task_acks_late = False
        task_default_queue = ""
        result_expires = 3600  # nothing reads the reports' task results
        broker_connection_retry_on_startup = True
        beat_schedule = {
            "reports.scheduler": {"task": "reports.scheduler", "schedule": crontab(minute="*", hour="*"),
                                  "options": {"expires": BEAT_EXPIRES}},
            "reports.prune_log": {"task": "reports.prune_log", "schedule": crontab(minute=0, hour=0)},
        }

    CeleryConfig.broker_url = CeleryConfig.result_backend = broker_url
    # one Redis may serve several Supersets (tests, worktrees): each has its own queue
    CeleryConfig.task_default_queue = queue
    return CeleryConfig


def _before_task(task=None, **_kw) -> None:
    """In the worker, before a task. Superset hands Celery's ``request.eta`` (an ISO string) on as
    the execution's scheduled time, a datetime column: PostgreSQL parses the string, SQLite (the
    demo's metadata) refuses it. Then the robot webhooks (grassroots/deploy/robot_webhook.py) and
    the screenshot's second attempt (grassroots/deploy/screenshot_retry.py)."""
    from datetime import datetime

    eta = getattr(getattr(task, "request", None), "eta", None)
    if isinstance(eta, str):
        task.request.eta = datetime.fromisoformat(eta)
    from grassroots.deploy import robot_webhook, screenshot_retry

    robot_webhook.install()  # once per process
    screenshot_retry.install()


def settings(*, redis_url: str, base_url: str, queue: str = "grassroots_reports",
             public_url: str | None = None, env: dict[str, str] | None = None) -> dict:
    """Everything Alerts & Reports needs, as config names → values.

    ``redis_url`` is the Celery broker (a Redis database of its own), ``base_url`` where the worker's
    browser reaches Superset, ``public_url`` the address in the mails (default ``base_url``).
    ``FEATURE_FLAGS`` holds only the flags to add to the configuration's own.
    """
    try:
        from celery.signals import task_prerun

        task_prerun.connect(_before_task, weak=False)
    except ImportError:  # read outside Superset's interpreter
        pass
    e = os.environ if env is None else env
    base = base_url.rstrip("/") + "/"
    out = {
        "FEATURE_FLAGS": {"ALERT_REPORTS": True, "ALERT_REPORT_WEBHOOK": True},
        "CELERY_CONFIG": celery_config(redis_url, queue),
        "ALERT_REPORTS_NOTIFICATION_DRY_RUN": False,
        "EMAIL_REPORTS_SUBJECT_PREFIX": "[grassroots] ",
        "EMAIL_REPORTS_CTA": "在 Superset 中查看",
        # screenshots: Selenium driving Debian's Chromium through its chromedriver (no download;
        # Debian's chromedriver starts /usr/bin/chromium, and Superset 6.1 passes a configured
        # binary_location on to the driver's constructor, which refuses it)
        "WEBDRIVER_TYPE": "chrome",
        "WEBDRIVER_OPTION_ARGS": ["--headless=new", "--no-sandbox", "--disable-gpu",
                                  "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=zh-CN",
                                  "--disable-background-networking", "--disable-component-update"],
        "WEBDRIVER_CONFIGURATION": {
            "options": {"capabilities": {}, "preferences": {}},
            "service": {"executable_path": e.get("GRASSROOTS_CHROMEDRIVER") or CHROMEDRIVER,
                        "log_output": "/dev/null", "service_args": [], "port": 0, "env": {}},
        },
        "WEBDRIVER_WINDOW": {"dashboard": (1600, 2000), "slice": (1600, 1200), "pixel_density": 1},
        "WEBDRIVER_BASEURL": base,
        "WEBDRIVER_BASEURL_USER_FRIENDLY": (public_url or e.get("GRASSROOTS_SUPERSET_PUBLIC_URL")
                                            or base).rstrip("/") + "/",
        # Superset waits 10 s by default for the dashboard's grid and again for its chart
        # containers, then fails the report: a busy two-core server with a cold Chromium needs more
        "SCREENSHOT_LOCATE_WAIT": 60,
        "SCREENSHOT_LOAD_WAIT": 90,
        "EMAIL_PAGE_RENDER_WAIT": 30,
        "ALERT_REPORTS_WORKING_TIME_OUT_KILL": True,
        # a WeCom / DingTalk robot URL is https; anything else is refused
        "ALERT_REPORTS_WEBHOOK_HTTPS_ONLY": True,
    }
    out.update(smtp_settings(e))
    return out
