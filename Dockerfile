# Production image: gunicorn serving Django, static files via WhiteNoise.
# The same image runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    PATH="/app/.venv/bin:$PATH" \
    DJANGO_SETTINGS_MODULE=loyalty.settings \
    DATA_DIR=/data

RUN pip install --no-cache-dir uv==0.13.8

WORKDIR /app

# Dependencies first, so this layer is cached until the lock file changes.
COPY pyproject.toml uv.lock ./
# The i18n group brings msgfmt, for compiling the translations below.
RUN uv sync --locked --no-dev --group i18n --no-install-project --no-cache

COPY . .

# Static files are collected at build time; the key only satisfies the settings import.
RUN SECRET_KEY=build-time-only-not-a-secret python manage.py collectstatic --noinput \
    && SECRET_KEY=build-time-only-not-a-secret python manage.py compilemessages --ignore .venv

RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home app \
    && mkdir -p /data \
    && chown app:app /data
USER app

EXPOSE 8000
CMD ["gunicorn", "loyalty.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
