# Docker targets. The top-level Makefile includes this file (`include deploy/docker.mk`); it
# also runs alone: make -f deploy/docker.mk docker-test
#
#   docker-images  the base (debootstrap), nginx, PostgreSQL and service images; no registry
#   docker-test    images + the compose stack + the kill test through nginx, then tear down
#   docker-down    remove what an interrupted docker-test left (its compose project)

DOCKER_PYTHON ?= .venv/bin/python
# Debian's docker-compose (v1) where installed, else the v2 plugin.
DOCKER_COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose \
                    || echo docker compose)

.PHONY: docker-system-deps docker-images docker-test docker-down

# Debian's engine (dockerd), compose v1 (bookworm has no compose v2 plugin) and debootstrap.
docker-system-deps:
	@if ! command -v dockerd >/dev/null || ! command -v docker-compose >/dev/null \
	    || ! command -v debootstrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      docker.io docker-compose debootstrap >/dev/null; \
	  else echo "not root: install docker.io, docker-compose and debootstrap"; fi; \
	fi

docker-images: docker-system-deps .venv/bin/oncoclass
	$(DOCKER_PYTHON) deploy/build_images.py all

# Starts dockerd if none answers (root only), trains a small model once if needed.
docker-test: docker-system-deps .venv/bin/oncoclass
	$(DOCKER_PYTHON) deploy/docker_test.py

docker-down:
	$(DOCKER_COMPOSE) -p oncoclass-docker-test -f docker-compose.yml down --volumes --remove-orphans
