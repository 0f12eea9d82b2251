# syntax=docker/dockerfile:1
# mentorflow: one image, one entry point (`mentorflow`) for the worker, the web app and the CLI.
#   docker build -t mentorflow:0.1.0 .
#   docker run --env-file prod.env mentorflow:0.1.0            # worker (default command)
#   docker run --env-file prod.env mentorflow:0.1.0 web
#   docker run --env-file prod.env mentorflow:0.1.0 db migrate
ARG PYTHON_IMAGE=python:3.11.15-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /app
# Dependencies first (cached until pyproject.toml changes), without the embedded dev stack's binaries.
COPY pyproject.toml README.md ./
COPY deploy/docker/runtime_requirements.py /tmp/runtime_requirements.py
RUN python /tmp/runtime_requirements.py pyproject.toml > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt
COPY . .
# Editable install: the code stays in /app, so migrations/ and programs/ sit beside the packages
# where the code looks for them (Path(worker.__file__).parents[1]).
RUN pip install --no-deps -e . \
 && python -m compileall -q /app /opt/venv/lib \
 && mentorflow --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    MENTORFLOW_STATE_DIR=/var/lib/mentorflow \
    MENTORFLOW_LOG_FORMAT=json \
    MENTORFLOW_WEB_HOST=0.0.0.0 \
    MENTORFLOW_METRICS_HOST=0.0.0.0
RUN groupadd --system --gid 10001 mentorflow \
 && useradd --system --uid 10001 --gid mentorflow --no-create-home --shell /usr/sbin/nologin mentorflow \
 && install -d -o mentorflow -g mentorflow /var/lib/mentorflow
COPY --from=build /opt/venv /opt/venv
COPY --from=build /app /app
WORKDIR /app
USER 10001:10001
# 8000: web app; 9464: worker Prometheus metrics.
EXPOSE 8000 9464
# Exec form: mentorflow is PID 1 and receives SIGTERM itself, so the worker drains in-flight activities.
ENTRYPOINT ["mentorflow"]
CMD ["worker"]
