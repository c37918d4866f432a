# Multi-stage build: wheels in a builder, a slim runtime with WeasyPrint's libraries, non-root.
# One image for every role (web, worker, migrate, sandbox): compose.yaml picks the command.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY knopfdruck knopfdruck
COPY backend backend
COPY prefill prefill
COPY frontend frontend
COPY sandbox sandbox
RUN pip wheel --no-cache-dir --constraint constraints.txt --wheel-dir /wheels .

FROM python:3.11-slim-bookworm AS runtime
# WeasyPrint: pango (layout), harfbuzz-subset (deterministic font subsetting, so the same notice
# gives the same PDF bytes), DejaVu for PDF/A embedding; the same list as scripts/system-packages.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 --user-group knopfdruck
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY services services
COPY config config
ENV PYTHONUNBUFFERED=1 \
    KNOPFDRUCK_SANDBOX=false \
    KNOPFDRUCK_SERVICES_DIR=/app/services \
    KNOPFDRUCK_PORTAL_CONFIG=/app/config/portal.yaml \
    KNOPFDRUCK_DATA_DIR=/home/knopfdruck/var
RUN mkdir -p /home/knopfdruck/var && chown knopfdruck:knopfdruck /home/knopfdruck/var
USER 10001:10001
EXPOSE 8000
# For the web role; compose.yaml gives workers and the sandbox their own checks.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["knopfdruck", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
