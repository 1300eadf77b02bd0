# syntax=docker/dockerfile:1
# cention-logio-exporter container image.
#
#   docker build -t cention-logio-exporter \
#     --build-arg REVISION="$(git rev-parse HEAD)" \
#     --build-arg BRANCH="$(git rev-parse --abbrev-ref HEAD)" .
#   docker run -d -p 9863:9863 \
#     -v "$PWD/config.yaml:/etc/cention-logio-exporter/config.yaml:ro" \
#     -v "$PWD/token:/run/secrets/cention_token:ro" \
#     cention-logio-exporter
#
# The build context holds only what the wheel is built from (see .dockerignore); the
# final image holds the installed wheels and nothing else: no sources, no config, no token.

# Builder: the project's wheel and the wheels of its dependencies.
FROM python:3.12-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY exporter ./exporter
# The context has no .git: the build args (see the top) give the revision and branch
# that --version and cention_exporter_build_info report; unset, they read "unknown".
ARG REVISION=""
ARG BRANCH=""
ENV CENTION_EXPORTER_REVISION=$REVISION \
    CENTION_EXPORTER_BRANCH=$BRANCH
RUN pip wheel --wheel-dir /wheels .

# Runtime: Python, the wheels installed from /wheels only, an unprivileged user.
FROM python:3.12-slim
LABEL org.opencontainers.image.title="cention-logio-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Cention Contact Center's logio (login/logout) API" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels cention-logio-exporter \
 && groupadd --system --gid 10001 exporter \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin exporter \
 && mkdir -p /etc/cention-logio-exporter /var/lib/cention-logio-exporter \
 && chown 10001:10001 /var/lib/cention-logio-exporter
# The default config file, ./config.yaml, is then the mounted one: `docker run IMAGE
# --web.listen-address=:9000` (flags alone are run's) reads it as CMD does.
WORKDIR /etc/cention-logio-exporter

# Numeric, so that Kubernetes' runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
# Point state.file here (e.g. /var/lib/cention-logio-exporter/state.json) to keep
# counters and open sessions across container restarts.
VOLUME /var/lib/cention-logio-exporter
EXPOSE 9863
# The check reads the config run reads and asks /healthz where it says the exporter
# listens, over TLS when tls_server_config is on: a changed port or TLS needs no edit here.
# Flags given to `docker run` it cannot see: pass the same ones with --health-cmd.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["cention-logio-exporter", "healthcheck", "--config.file=/etc/cention-logio-exporter/config.yaml"]
ENTRYPOINT ["cention-logio-exporter"]
CMD ["run", "--config.file=/etc/cention-logio-exporter/config.yaml"]
