# syntax=docker/dockerfile:1
# Airflow for grassroots: the official image with the project added.
# Build context: the repository root (docker-compose.yml sets it); airflow.Dockerfile.dockerignore
# keeps the context to what the image needs.
ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

USER root
# mount points of the named volumes: a new volume takes this ownership (the airflow user, uid 50000)
RUN mkdir -p /opt/grassroots /opt/airflow/auth \
        /data/landing/reference /data/landing/extracts /data/warehouse/archive /data/serving /data/home \
    && chown -R airflow:0 /opt/grassroots /opt/airflow/auth /data \
    && chmod -R g+rwX /opt/airflow/auth /data
USER airflow
WORKDIR /opt/grassroots

# The pipeline's dependencies at exactly the versions of uv.lock (the same lock as the tests),
# apache-airflow==3.3.2 included, into the image's environment; a layer of its own so that a
# code change does not reinstall them.
COPY --chown=airflow:0 pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv export --frozen --no-dev --no-emit-project --no-hashes -o /tmp/requirements.txt \
    && uv pip install --no-cache --compile-bytecode -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# The project: the DAG and the package find dbt/ and expectations/ next to them (repository
# layout), so it is installed editable from /opt/grassroots.
COPY --chown=airflow:0 README.md ./
COPY --chown=airflow:0 grassroots ./grassroots
COPY --chown=airflow:0 dags ./dags
COPY --chown=airflow:0 dbt ./dbt
COPY --chown=airflow:0 expectations ./expectations
RUN uv pip install --no-cache --no-deps -e . \
    && python -c "import duckdb, psycopg2, cosmos, grassroots.quality.steps; assert duckdb.__version__ == '2.0.0', duckdb.__version__" \
    && test -x "$(dirname "$(python -c 'import sys; print(sys.executable)')")/dbt"  # the DAG runs dbt from there

ENV DBT_SEND_ANONYMOUS_USAGE_STATS=False \
    GX_ANALYTICS_ENABLED=False \
    PYTHONUNBUFFERED=1
