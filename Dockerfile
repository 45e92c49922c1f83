# syntax=docker/dockerfile:1
# One image for every Hookgate process: `hookgate ingress`, `hookgate worker`, `hookgate topics
# ensure` (the chart's and the compose file's jobs). The entrypoint is the `hookgate` command, so a
# container's arguments are exactly a `hookgate` command line.
#
#   docker build -t hookgate .
#   docker run --rm hookgate --help

ARG PYTHON_VERSION=3.12

# Build stage: a virtual environment with hookgate, the rocksdb extra (the worker's on-disk
# table store) and the otel extra (span export, when `tracing` asks for it). Nothing from this stage but the venv reaches the final image.
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/hookgate
WORKDIR /src
# Dependencies first, so a source change does not reinstall them: an empty package with the real
# pyproject resolves the same dependency set.
COPY pyproject.toml README.md ./
RUN mkdir -p ingress streams schemas hookgate \
 && touch ingress/__init__.py streams/__init__.py schemas/__init__.py hookgate/__init__.py \
 && /opt/hookgate/bin/pip install ".[rocksdb,otel]" \
 && /opt/hookgate/bin/pip uninstall --yes hookgate
COPY ingress ingress
COPY streams streams
COPY schemas schemas
COPY hookgate hookgate
RUN /opt/hookgate/bin/pip install --no-deps . \
 && /opt/hookgate/bin/hookgate --help > /dev/null

# Final stage: the slim runtime, the venv, a non-root user; no compilers, no pip cache, no sources.
FROM python:${PYTHON_VERSION}-slim-bookworm
LABEL org.opencontainers.image.title="hookgate" \
      org.opencontainers.image.description="Webhook ingestion on Kafka: verified deliveries in, de-duplicated CloudEvents out." \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it and volumes can be owned by it.
RUN groupadd --system --gid 10001 hookgate \
 && useradd --system --uid 10001 --gid hookgate --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin hookgate \
 && mkdir -p /etc/hookgate /var/lib/hookgate \
 && chown hookgate:hookgate /var/lib/hookgate
COPY --from=build /opt/hookgate /opt/hookgate
# Bytecode was compiled at install time; a read-only root filesystem must not be written to.
ENV PATH=/opt/hookgate/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# The worker's table store (set worker.data_dir or HOOKGATE_WORKER_DATA_DIR to it); a named volume
# or a PersistentVolumeClaim goes here.
VOLUME ["/var/lib/hookgate"]
USER 10001:10001
WORKDIR /var/lib/hookgate
# 8000: ingress HTTP (webhooks, /healthz, /readyz, /metrics); 6066: worker /metrics.
EXPOSE 8000 6066
ENTRYPOINT ["hookgate"]
CMD ["--help"]
