# syntax=docker/dockerfile:1
# The code location's image for Dagster+ Hybrid (and any gRPC code server): the locked production
# dependencies and the project installed as a wheel (glue_jobs/ inside it) in /app/.venv, nothing else.
# Started from what `dg plus deploy configure hybrid` generates (dagster-dg-cli 1.13), with uv's
# multi-stage layout; tests/test_wheel.py replays the builder's COPY and `uv sync` steps
# and runs the CMD and HEALTHCHECK below against the result (no image is built on the test machines).

# Both stages use the same image: the venv's python is a symlink to the builder's interpreter.
# Pinned by tag; add the digest (`docker buildx imagetools inspect python:<tag>`) to freeze the OS layer too.
ARG PYTHON_TAG=3.11.14-slim-bookworm

# The same uv as the Makefile's UV_VERSION, which made uv.lock.
FROM ghcr.io/astral-sh/uv:0.13.9 AS uv

FROM python:${PYTHON_TAG} AS builder
COPY --from=uv /uv /bin/uv
# copy: the cache mount is another filesystem. Bytecode compiled here, so the code server starts faster.
ENV UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1 UV_PYTHON_DOWNLOADS=never UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /src
# Extra dependency groups, e.g. `--build-arg EXTRA_GROUPS=selfhosted` for deploy/self-hosted/ (run
# containers load its Postgres storage and Docker launcher); none for Dagster+.
ARG EXTRA_GROUPS=""
# Dependencies first: this layer is rebuilt only when the lock changes. The workspace member's
# pyproject.toml is needed to read the workspace; its code (the local AWS endpoint) never enters the context.
COPY pyproject.toml uv.lock ./
COPY packages/glue-pipes-local-aws/pyproject.toml packages/glue-pipes-local-aws/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-default-groups ${EXTRA_GROUPS:+--group=$EXTRA_GROUPS} --no-install-project
# Then the project, installed as a wheel (not editable), so the runtime stage needs only the venv.
COPY README.md ./
COPY glue_pipes_project glue_pipes_project/
COPY glue_jobs glue_jobs/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-default-groups ${EXTRA_GROUPS:+--group=$EXTRA_GROUPS} --no-editable

FROM python:${PYTHON_TAG}
RUN useradd --uid 10001 --user-group --create-home dagster
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /app
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001
# Fail the build here if dagster-cloud is missing: the Dagster+ agent needs it in the image.
RUN dagster-cloud --version
EXPOSE 4000
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s CMD ["dagster", "api", "grpc-health-check", "--port", "4000"]
# What a plain `docker run` serves; the Dagster+ agent starts the code server with its own command.
CMD ["dagster", "api", "grpc", "--module-name", "glue_pipes_project.definitions", "--host", "0.0.0.0", "--port", "4000"]
