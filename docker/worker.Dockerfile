# headwater worker: multi-stage, locked dependencies from uv.lock, non-root.
# Build from the repository root: docker build -f docker/worker.Dockerfile -t headwater-worker .
FROM python:3.11-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.5 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
# Only this service's package and what it needs (plus the CLI that runs it), from the lock.
RUN uv sync --frozen --no-dev --no-editable --package headwater-worker --package headwater-cli

FROM python:3.11-slim
LABEL org.opencontainers.image.licenses="Apache-2.0"
RUN useradd --uid 10001 --create-home headwater
COPY --from=build --chown=10001:10001 /app/.venv /app/.venv
# The worker image is the one you extend with your graphs (FROM it, COPY your project,
# set HEADWATER_CONFIG). It ships the example agent so the dev overlay works as it is.
COPY --chown=10001:10001 examples /app/examples
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 HEADWATER_HOST=0.0.0.0
WORKDIR /app
USER 10001
ENTRYPOINT ["headwater"]
CMD ["worker"]
