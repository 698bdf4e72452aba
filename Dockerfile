# The service image. `wrls-actors` is the entrypoint; docker-compose.yml picks
# the subcommand (worker, scheduler, exporter, db upgrade). No HEALTHCHECK
# here: only the exporter has an endpoint, so the compose file checks it there.
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, read from pyproject.toml alone, so that a code change
# rebuilds only the last layers.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY wrls_actors ./wrls_actors
# The console's pinned browser assets (htmx), checked against their hashes: not in git.
COPY scripts/assets.py ./scripts/assets.py
RUN python scripts/assets.py \
    && pip install --no-deps . \
    && rm -rf build wrls_actors.egg-info scripts \
    && useradd --system --create-home --uid 10001 wrls

USER wrls
# Writable: `run` with nothing configured keeps its embedded data in ./.wrls.
WORKDIR /home/wrls
ENTRYPOINT ["wrls-actors"]
CMD ["run"]
