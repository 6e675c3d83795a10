# One image pattern for every service: docker build --build-arg PACKAGE=hearth-deployer \
#   --build-arg MODULE=hearth_deployer .   (compose.yaml passes both per service)
FROM python:3.11-slim AS build
ARG PACKAGE
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /src
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY src ./src
RUN test -n "$PACKAGE" && uv sync --frozen --no-dev --no-editable --package "$PACKAGE"

FROM python:3.11-slim
ARG MODULE
# git: the deployer fetches commits, the gateway polls repositories and the device manager
# reads the desired device config with it.
RUN apt-get update && apt-get install -y --no-install-recommends git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --uid 10001 hearth
COPY --from=build /src/.venv /opt/hearth
ENV PATH="/opt/hearth/bin:$PATH" \
    HEARTH_MODULE="${MODULE}" \
    HEARTH_HTTP_HOST=0.0.0.0 \
    HEARTH_DATA_DIR=/var/lib/hearth \
    HEARTH_LOG_FORMAT=json
RUN test -n "$HEARTH_MODULE" && mkdir -p /var/lib/hearth && chown hearth /var/lib/hearth
USER hearth
WORKDIR /var/lib/hearth
CMD ["sh", "-c", "exec python -m \"$HEARTH_MODULE\""]
