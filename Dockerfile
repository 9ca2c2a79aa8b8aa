# OncoClass service image: the project and its pinned dependencies (torch's CPU build, no CUDA)
# installed from wheels built on the host, so the build needs no package index and the same
# wheels give the same image.
#
#   python deploy/build_images.py wheels   # build/docker/wheelhouse + build/docker/project
#   docker build -t oncoclass .            # on the official python:3.11-slim
#   docker build --build-arg BASE_IMAGE=oncoclass-base:bookworm -t oncoclass .
#                                          # on the Debian base made by build_images.py base
# `make -f deploy/docker.mk docker-images` does all of it without a registry.
#
# The model directory is mounted read-only (ONCOCLASS_MODEL_DIR): see docker-compose.yml.
ARG BASE_IMAGE=python:3.11-slim

# The dependencies, in a stage of their own: the wheels stay out of the final image, and this
# layer is rebuilt only when the wheelhouse (the pinned versions) changes.
FROM ${BASE_IMAGE} AS deps
# Marks the images of this build (deploy/build_images.py removes the stale, untagged ones).
LABEL oncoclass.build=service
COPY build/docker/wheelhouse /wheels
RUN python3 -m venv /opt/oncoclass \
 && /opt/oncoclass/bin/pip install --no-cache-dir --no-index /wheels/*.whl \
 && /opt/oncoclass/bin/python -c "import torch; assert not torch.version.cuda, torch.version.cuda"

FROM ${BASE_IMAGE}
LABEL oncoclass.build=service
COPY --from=deps /opt/oncoclass /opt/oncoclass
# The project itself last: a code change rebuilds only this small layer.
COPY build/docker/project /tmp/project
# pip check: the declared requirements are met; the import: so is every module the service
# imports (one missing from pyproject.toml fails the build here, not the container's start).
RUN /opt/oncoclass/bin/pip install --no-cache-dir --no-index --no-deps /tmp/project/*.whl \
 && /opt/oncoclass/bin/pip check \
 && /opt/oncoclass/bin/python -c "import oncoclass.api.app, oncoclass.cli" \
 && rm -rf /tmp/project \
 && useradd --system --create-home --uid 10001 oncoclass \
 && mkdir /data && chown oncoclass /data
COPY deploy/healthcheck.py /usr/local/bin/oncoclass-healthcheck
USER oncoclass
# ONCOCLASS_HOST as well as --host: the service requires API keys when its configured host is
# not loopback.
ENV PATH=/opt/oncoclass/bin:$PATH \
    ONCOCLASS_HOST=0.0.0.0 \
    ONCOCLASS_DATA_HOME=/data \
    HF_HUB_OFFLINE=1 \
    PYTHONUNBUFFERED=1
VOLUME ["/data"]
EXPOSE 8000
# Readiness, not mere liveness: a replica without its model or database is unhealthy. The
# start period is long because start-up is (imports, model, warm-up: over a minute for three
# replicas on two busy cores); it is healthy at its first success all the same.
HEALTHCHECK --interval=5s --timeout=5s --start-period=300s --retries=3 \
    CMD ["/opt/oncoclass/bin/python", "/usr/local/bin/oncoclass-healthcheck"]
CMD ["oncoclass", "serve", "--host", "0.0.0.0", "--port", "8000"]
