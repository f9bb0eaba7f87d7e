# kravsak services (publisher, projector, process manager) for docker-compose.yml. The entry point is the CLI:
#   docker run <image> publish | project | automate | ping --as <service> | smoke | status
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    KRAVSAK_LOG_FORMAT=json

# WeasyPrint's Pango and the letters' fonts (tools/system-deps.sh lists the same)
RUN apt-get update && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz-subset0 fonts-liberation2 fonts-dejavu-core && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY kravsak ./kravsak
COPY domain ./domain
COPY schemas ./schemas
COPY consumers ./consumers
COPY projections ./projections
COPY web ./web
COPY personal ./personal
COPY letters ./letters
RUN pip install . && useradd --system --home-dir /app kravsak
USER kravsak

ENTRYPOINT ["kravsak"]
CMD ["status"]
