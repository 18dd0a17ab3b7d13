# Superset configuration for the Compose deployment (copied to $SUPERSET_HOME/superset_config.py by
# grassroots.deploy.superset_init; SUPERSET_CONFIG_PATH points there). Every secret and address
# comes from the environment; the UI settings are the demo's (grassroots/deploy/ui_config.py).
import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["GRASSROOTS_SUPERSET_DB_URI"]

# The UI and security settings, row-level security among them, are the demo's. Required: the
# image puts /opt/grassroots on PYTHONPATH (and grassroots.superset.manage does so natively).
from grassroots.deploy.ui_config import settings as _ui_settings  # noqa: E402

_ui = _ui_settings()
globals().update(_ui)
FEATURE_FLAGS = _ui["FEATURE_FLAGS"]  # Alerts & Reports add theirs below

SUPERSET_WEBSERVER_PORT = 8088
TALISMAN_ENABLED = os.environ.get("SUPERSET_TALISMAN_ENABLED", "false").lower() == "true"
ENABLE_PROXY_FIX = True  # behind a reverse proxy that sets X-Forwarded-*

# Redis: metadata cache, chart-data cache, filter state, explore state, rate limits.
# The serving file is republished every morning, so chart data is cached briefly.
_REDIS = os.environ.get("SUPERSET_REDIS_URL", "").rstrip("/")
_DATA_TIMEOUT = int(os.environ.get("SUPERSET_DATA_CACHE_TIMEOUT", "900"))


def _redis_cache(db: int, prefix: str, timeout: int) -> dict:
    return {"CACHE_TYPE": "RedisCache", "CACHE_DEFAULT_TIMEOUT": timeout,
            "CACHE_KEY_PREFIX": prefix, "CACHE_REDIS_URL": f"{_REDIS}/{db}"}


if _REDIS:
    CACHE_CONFIG = _redis_cache(0, "superset_", 86400)
    DATA_CACHE_CONFIG = _redis_cache(1, "superset_data_", _DATA_TIMEOUT)
    FILTER_STATE_CACHE_CONFIG = _redis_cache(2, "superset_filter_", 86400)
    EXPLORE_FORM_DATA_CACHE_CONFIG = _redis_cache(3, "superset_explore_", 86400)
    RATELIMIT_STORAGE_URI = f"{_REDIS}/4"
else:
    CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
    DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
    RATELIMIT_STORAGE_URI = "memory://"

# Alerts & Reports (grassroots/deploy/reports_config.py): the superset-worker and superset-beat
# services, Celery on Redis database 5, mail through the GRASSROOTS_SMTP_* server of the daily
# data-quality message, screenshots by the image's Chromium.
from grassroots.deploy.reports_config import settings as _reports_settings  # noqa: E402

if _REDIS:
    _r = _reports_settings(redis_url=f"{_REDIS}/5",
                           base_url=os.environ.get("SUPERSET_WEBDRIVER_BASEURL") or "http://superset:8088/")
    FEATURE_FLAGS.update(_r.pop("FEATURE_FLAGS"))
    globals().update(_r)
