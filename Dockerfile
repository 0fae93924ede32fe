# kumahc serve in a container. Build from the repository root:
#   docker build -t kumahc .
#   docker run --rm -p 18000:18000 -p 18001:18001 -v "$PWD/examples/complete/mesh:/policies:ro" kumahc
# The policies are read from the volume /policies and reloaded when they change. See docs/deploy.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH

WORKDIR /opt/kumahc

# Runtime dependencies first, exactly as locked (every package pinned, every file hash checked), so this layer is
# reused until the lock changes. requirements-runtime.lock leaves out the test tools that requirements.lock holds;
# its pins are requirements.lock's, so the image runs the versions the test suite passed with.
COPY requirements-runtime.lock ./
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --require-hashes --no-deps -r requirements-runtime.lock

# kumahc itself; its dependencies are already installed from the lock.
COPY pyproject.toml README.md LICENSE ./
COPY schemas ./schemas
COPY kumahc ./kumahc
RUN /opt/venv/bin/pip install --no-deps . \
 && rm -rf /opt/kumahc

RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin kumahc \
 && mkdir /policies \
 && chown kumahc /policies
USER 10001
WORKDIR /
VOLUME ["/policies"]

# 18000: gRPC xDS for Envoy; 18001: admin HTTP (/ready, /metrics, /config_dump, /status).
EXPOSE 18000 18001
# Same check as the Kubernetes readiness probe: ready once the first snapshot is served.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18001/ready', timeout=2)"]
ENTRYPOINT ["kumahc", "serve"]
CMD ["/policies", "--xds-address", "0.0.0.0:18000", "--admin-address", "0.0.0.0:18001"]
