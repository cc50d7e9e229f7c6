# agentcli's web service (`agentcli serve`) with every store, provider and observability extra.
#
#   docker build -t agentcli .
#   docker run --read-only --tmpfs /tmp -v agentcli-data:/data -p 8000:8000 \
#     -e AGENTCLI_API_KEYS="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" \
#     agentcli
#
# Classic builder only (no BuildKit features). BASE is any Debian bookworm image, with Python
# (python:3.11-slim) or without it (then Debian's python3, 3.11, is installed): CI builds on a
# local debootstrap base (.ci/image). Every Python package comes from the hash-pinned files in
# requirements/; the project's wheel is built with the pinned backend (requirements/build.txt).
ARG BASE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
FROM ${BASE} AS build

# The index pip uses, if not the default one (CI passes the machine's own); build stage only.
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG DEBIAN_FRONTEND=noninteractive
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt

# A base without Python (or without its venv module) gets Debian's python3 and python3-venv.
# Their versions come from the base's Debian point release; pinning them here would break each one.
# hadolint ignore=DL3008
RUN if ! python3 -m venv /opt/build-venv >/dev/null 2>&1; then \
        rm -rf /opt/build-venv \
        && apt-get update \
        && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
        && apt-get clean \
        && rm -rf /var/lib/apt/lists/* \
        && python3 -m venv /opt/build-venv; \
    fi \
    && python3 -m venv /opt/venv

WORKDIR /src
# The dependencies first: this layer is reused until a requirements file changes. pip itself
# is not shipped.
COPY requirements/build.txt requirements/image.txt requirements/
RUN /opt/build-venv/bin/pip install --require-hashes --no-cache-dir -r requirements/build.txt \
    && /opt/venv/bin/pip install --require-hashes --no-cache-dir -r requirements/image.txt \
    && /opt/venv/bin/pip uninstall -y -q pip setuptools

# The project's wheel, installed into /opt/venv under /opt/app (pip --root, by the build venv's
# pip): the final stage takes the dependencies and the project as two layers, so a change to
# the code ships a layer of a few MB.
COPY pyproject.toml README.md ./
COPY src/ src/
RUN /opt/build-venv/bin/pip wheel --no-deps --no-build-isolation --no-cache-dir -w /wheels . \
    && PYTHONPATH="$(echo /opt/build-venv/lib/python3*/site-packages)" /opt/venv/bin/python -m pip \
        install --no-deps --no-cache-dir --no-compile --root /opt/app /wheels/agentcli-*.whl \
    && /opt/venv/bin/python -m compileall -q -s /opt/app -p / /opt/app/opt/venv/lib \
    && test -x /opt/app/opt/venv/bin/agentcli

# ---------------------------------------------------------------------------------------------
FROM ${BASE}

LABEL org.opencontainers.image.title="agentcli" \
      org.opencontainers.image.description="agentcli serve: LLM agents over REST, SSE and the OpenAI APIs" \
      org.opencontainers.image.licenses="MIT"

ARG DEBIAN_FRONTEND=noninteractive
# Python only (no pip, no compilers); one fixed, unprivileged user; /data its only own place.
# Debian's versions come with the base's point release (not pinned here).
# hadolint ignore=DL3008
RUN if ! command -v python3 >/dev/null 2>&1; then \
        apt-get update \
        && apt-get install -y --no-install-recommends python3 ca-certificates \
        && apt-get clean \
        && rm -rf /var/lib/apt/lists/*; \
    fi \
    && groupadd --system --gid 10001 agentcli \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin agentcli \
    && mkdir -p /data /app \
    && chown 10001:10001 /data

COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/app/opt/venv /opt/venv

# A read-only root file system works: sessions go to /data (a volume), anything else to /tmp.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    AGENTCLI_DATA_DIR=/data \
    HEALTHCHECK_PORT=8000

WORKDIR /app
VOLUME ["/data"]
USER 10001:10001
EXPOSE 8000

# Liveness through /health (no curl here: Python's urllib). HEALTHCHECK_PORT follows --port.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('HEALTHCHECK_PORT', '8000') + '/health', timeout=4)"]

# Listening beyond loopback needs API keys: set AGENTCLI_API_KEYS or AGENTCLI_API_KEYS_FILE.
CMD ["agentcli", "serve", "--host", "0.0.0.0", "--port", "8000"]
