# planbell: the reminder daemon. Build: docker build -t planbell .
# Run:   docker run -v planbell-var:/app/var -v "$PWD/schedules:/app/schedules:ro" planbell
# Secrets (SMTP password, webhook keys, a PostgreSQL URL) come from the environment or from
# *_FILE paths (Docker secrets); none is baked into the image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY daemon ./daemon
COPY notifiers ./notifiers
# Wheels for planbell and every dependency, so the final stage needs no compiler and no cache.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PLANBELL_SCHEDULES=/app/schedules \
    PLANBELL_ROSTER=/app/schedules/roster.yaml \
    PLANBELL_DATABASE_URL=sqlite:////app/var/planbell.db \
    PLANBELL_MAILDIR=/app/var/mail \
    PLANBELL_TEMPLATES=/app/templates \
    PLANBELL_HTTP_HOST=0.0.0.0 \
    PLANBELL_HTTP_PORT=8080
RUN useradd --system --uid 10001 --user-group --home-dir /app --no-create-home planbell
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links=/wheels planbell && rm -rf /wheels
WORKDIR /app
COPY templates ./templates
COPY schedules ./schedules
RUN mkdir -p /app/var && chown planbell:planbell /app/var
USER planbell
# State: the SQLite database and the Maildir. Mount the schedules read-only over /app/schedules.
VOLUME ["/app/var"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["planbell"]
CMD ["run"]
