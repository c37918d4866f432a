# Multi-stage build: wheels in a builder, a slim runtime with WeasyPrint's libraries, non-root.
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml constraints.txt README.md ./
COPY knopfdruck knopfdruck
COPY backend backend
COPY prefill prefill
COPY frontend frontend
COPY sandbox sandbox
RUN pip wheel --no-cache-dir --constraint constraints.txt --wheel-dir /wheels .

FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 knopfdruck
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/* && rm -rf /wheels
WORKDIR /app
COPY services services
ENV KNOPFDRUCK_SERVICES_DIR=/app/services KNOPFDRUCK_DATA_DIR=/home/knopfdruck/var
USER knopfdruck
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)" || exit 1
CMD ["knopfdruck", "serve", "--host", "0.0.0.0", "--port", "8000"]
