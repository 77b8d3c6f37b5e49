# seahealth: one image for every process of the production shape (docker-compose.yml):
# gunicorn (the default command), celery worker, celery beat, and manage.py migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles

RUN groupadd --system --gid 10001 seahealth \
    && useradd --system --uid 10001 --gid seahealth --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin seahealth

WORKDIR /app
COPY . .

# Editable, so that the code runs from /app: settings find templates/ and static/ next to it
# (BASE_DIR), where a plain install would run a second copy from site-packages without them.
# The static files are collected into the image (STATIC_ROOT) and served by whitenoise.
# Settings want a key even for collectstatic, which signs nothing: a throwaway one for this
# command alone, never kept in the image (the containers get theirs from .env).
RUN pip install --editable . \
    && SECRET_KEY=collectstatic-signs-nothing python manage.py collectstatic --noinput --verbosity 0

# /app stays root-owned and read-only to the processes; beat keeps its schedule in /tmp.
USER seahealth

EXPOSE 8000
# gunicorn takes its worker count from WEB_CONCURRENCY (default 1).
CMD ["gunicorn", "seahealth.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-tmp-dir", "/dev/shm", "--access-logfile", "-"]
