# syntax=docker/dockerfile:1
# failover-watcher container image.
#
#   docker build -t failover-watcher:0.1.0 .
#   docker run --read-only --tmpfs /tmp -p 9464:9464 \
#     -v ./watcher.toml:/etc/failover-watcher/watcher.toml:ro \
#     -v ./secrets:/etc/failover-watcher/secrets:ro \
#     -v failover-watcher-state:/var/lib/failover-watcher failover-watcher:0.1.0
#
# The config (deploy/kubernetes/base/configmap.yaml is one) must listen on 0.0.0.0:9464 to be
# reachable from outside the container, and should read the secrets from files (client_secret_file,
# admin_token_file), not the environment. Pin the base image by digest in your own registry; the tag
# below is the reproducible minimum. Without a container daemon: tests/deploy/image.py builds this
# file with buildah on a Debian python3 base (PYTHON_IMAGE) and tests/deploy/test_image.py runs it.
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# --- builder: one wheel for the project and one for each dependency it declares ---------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
# Only what the build needs: the metadata (pyproject.toml names README.md as the readme) and the
# package. Dependencies come from [project.dependencies], nowhere else.
COPY pyproject.toml README.md ./
COPY watcher/ ./watcher/
# pip from a venv: the same on the official image and on a distribution's python3 without pip.
# Two optional build secrets, for a machine that reaches the package index through its own pip
# configuration and CA (tests/deploy/image.py passes them): `pip.conf` and the `pip-ca.crt` it
# names. A plain `docker build` passes none, and pip uses its defaults.
RUN --mount=type=secret,id=pip.conf,required=false \
    --mount=type=secret,id=pip-ca.crt,required=false \
    python -m venv /opt/build \
    && PIP_CONFIG_FILE=/run/secrets/pip.conf /opt/build/bin/python -m pip wheel --wheel-dir /wheels .

# --- runtime: the wheels installed into a venv, no compiler, no source tree --------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="failover-watcher" \
      org.opencontainers.image.description="Keeps a Genesys Cloud organization routing to a healthy region" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# Wheels are bind-mounted from the builder, so they never land in a layer of this image. pip
# compiles the .pyc files here, at build time, because the root filesystem is read-only later.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m venv /opt/failover-watcher \
    && /opt/failover-watcher/bin/pip install --no-index --find-links /wheels failover-watcher \
    && groupadd --system --gid 10001 watcher \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin watcher \
    && mkdir -p /etc/failover-watcher /var/lib/failover-watcher \
    && chown 10001:10001 /var/lib/failover-watcher \
    && chmod 0700 /var/lib/failover-watcher

# PYTHONDONTWRITEBYTECODE: nothing is written outside the state volume (read-only root).
# WATCHER_STATE__DIR overrides [state] dir on purpose: the volume is the only writable place.
ENV PATH=/opt/failover-watcher/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    WATCHER_STATE__DIR=/var/lib/failover-watcher

# Outbox and audit trail survive a container restart.
VOLUME ["/var/lib/failover-watcher"]
USER 10001:10001
WORKDIR /var/lib/failover-watcher
EXPOSE 9464

# `failover-watcher healthcheck` uses the standard library only: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["failover-watcher", "healthcheck", "--timeout", "3"]

ENTRYPOINT ["failover-watcher"]
CMD ["run", "--config", "/etc/failover-watcher/watcher.toml"]
