# syntax=docker/dockerfile:1
# Superset for grassroots: the official image, the DuckDB driver, and what the init job needs
# (grassroots.superset + grassroots.deploy, standard library and duckdb only; the dashboards bundle).
# Build context: the repository root; superset.Dockerfile.dockerignore keeps it small.
ARG SUPERSET_IMAGE=apache/superset:6.1.0
FROM ${SUPERSET_IMAGE}

USER root
# Alerts & Reports: Debian's Chromium and its driver take the screenshots; a CJK font for the labels
RUN apt-get update \
    && apt-get install -y --no-install-recommends chromium chromium-driver fonts-wqy-microhei \
    && rm -rf /var/lib/apt/lists/*
# Same versions as dashboards/requirements.lock (tests/test_deploy.py checks): DuckDB must be the
# pipeline's DuckDB (a file written by 2.0 cannot be opened by 1.x); psycopg2 for the PostgreSQL
# metadata database; redis for the cache; celery and kombu for the reports worker (kombu 5.7
# refuses redis-py 5, which Superset 6.1 pins). The image's Python may be a uv-managed venv
# without pip.
RUN set -eux; \
    py="$(command -v python)"; \
    pkgs="duckdb==2.0.0 duckdb-engine==0.17.0 psycopg2-binary==2.9.13 redis==5.3.1 celery==5.6.3 kombu==5.6.2"; \
    if command -v uv >/dev/null 2>&1; then uv pip install --no-cache --python "$py" $pkgs; \
    else "$py" -m pip install --no-cache-dir $pkgs; fi; \
    "$py" -c "import duckdb, duckdb_engine, psycopg2, redis; assert duckdb.__version__ == '2.0.0'"; \
    mkdir -p /opt/grassroots/grassroots /data/serving; \
    chown -R superset:superset /opt/grassroots

COPY --chown=superset:superset grassroots/__init__.py grassroots/settings.py grassroots/install.py grassroots/errors.py /opt/grassroots/grassroots/
COPY --chown=superset:superset grassroots/superset /opt/grassroots/grassroots/superset
COPY --chown=superset:superset grassroots/deploy /opt/grassroots/grassroots/deploy
COPY --chown=superset:superset dashboards/assets /opt/grassroots/dashboards/assets
COPY --chown=superset:superset dashboards/reports.yml /opt/grassroots/dashboards/reports.yml
# the dashboards' specs and the metric catalogue: the roles' row-level security (superset-sync)
COPY --chown=superset:superset dashboards/specs /opt/grassroots/dashboards/specs
COPY --chown=superset:superset dbt/seeds/metric_catalogue.csv /opt/grassroots/dbt/seeds/metric_catalogue.csv

# grassroots.deploy.superset_init imports from here; the web server ignores it
ENV PYTHONPATH=/app/pythonpath:/opt/grassroots
USER superset
