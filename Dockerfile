# celgate webhook image, for users with Docker:
#
#   docker build -t celgate:0.1.0 .
#
# CI does not build this file: it builds the equivalent image with tools/build-image (Debian
# packages via mmdebstrap, celgate's wheels, buildah; no RUN steps, no shell in the image) and
# checks it in tests/image/. Both run `celgate serve --in-cluster` as uid 65532 with the
# policies in /opt/celgate/policies.
#
# The base is pinned to an exact patch release (override with --build-arg PYTHON_IMAGE=...@sha256:...
# to pin a digest). cel-expr-python and google-re2 ship manylinux wheels, so the slim (glibc)
# image needs no compiler.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY webhook ./webhook
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CELGATE_POLICIES=/opt/celgate/policies
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-cache-dir --no-index --find-links=/wheels celgate \
    && python -m compileall -q "$(python -c 'import webhook, os; print(os.path.dirname(webhook.__file__))')"
# The shipped policies, used when --policies is not given (the Deployment mounts its own copy).
COPY policies /opt/celgate/policies
LABEL org.opencontainers.image.title=celgate \
      org.opencontainers.image.version=0.1.0 \
      org.opencontainers.image.licenses=Apache-2.0
# A numeric non-root user: runAsNonRoot can verify it without an /etc/passwd lookup.
USER 65532:65532
EXPOSE 8443 8080
# In-cluster defaults; the Deployment appends --policies and --workers.
ENTRYPOINT ["celgate", "serve", "--in-cluster", \
            "--host", "0.0.0.0", "--port", "8443", \
            "--tls-cert", "/etc/celgate/tls/tls.crt", "--tls-key", "/etc/celgate/tls/tls.key", \
            "--metrics-host", "0.0.0.0", "--metrics-port", "8080"]
CMD ["--policies", "/opt/celgate/policies"]
