# syntax=docker/dockerfile:1
# The node's container image. From the repository's root:
#
#   docker build -t registry.example.org/avrr/avrr-gateway:0.1.0 .
#   docker build --build-arg AVRR_EXTRA=hsm -t registry.example.org/avrr/avrr-gateway:0.1.0-hsm .
#
# The builder stage runs deploy/build.sh, the same script a VM install and CI run
# (`make deploy-check`), into /opt/avrr; the final stage copies that virtual environment into the
# same Python image without compilers. Both stages must start from the same image, so the
# environment finds the same interpreter: in production pin it by digest
# (--build-arg PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:...).
#
# At run time: a read-only root file system, the node's home at /srv/avrr-node (a volume, or in
# Kubernetes a ConfigMap, a Secret and an emptyDir) and a writable /tmp; user 10001. See
# deploy/README.md.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# Compilers for a dependency without a wheel for the target platform (python-pkcs11 on some).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# .dockerignore lets in only what the build needs: no .venv, tests, node homes or keys.
COPY . .
# Empty for the runtime lock; "hsm" installs requirements/hsm.lock (PKCS#11 master key).
ARG AVRR_EXTRA=""
RUN deploy/build.sh /opt/avrr ${AVRR_EXTRA:+--extra "$AVRR_EXTRA"}

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="avrr-gateway" \
      org.opencontainers.image.description="AVRR referral gateway node: API (avrr serve) and worker (avrr worker)" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 avrr \
    && useradd --system --uid 10001 --gid 10001 --home-dir /srv/avrr-node --no-create-home \
       --shell /usr/sbin/nologin avrr \
    && install -d -o 10001 -g 10001 -m 0700 /srv/avrr-node
COPY --from=builder /opt/avrr /opt/avrr
ENV PATH=/opt/avrr/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# A numeric user, so Kubernetes' runAsNonRoot can check it without reading /etc/passwd.
USER 10001:10001
WORKDIR /srv/avrr-node
VOLUME ["/srv/avrr-node"]
EXPOSE 8000
# Alive, not ready: /readyz may say 503 while the database fails over, and a restart would not
# help. The worker has no HTTP port; compose and Kubernetes switch this check off for it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/livez', timeout=4)"]
ENTRYPOINT ["avrr-entrypoint"]
CMD ["avrr", "serve", "/srv/avrr-node", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
