# nginx from Debian's packages, on the Debian base image (nginx:1.27 needs a registry).
# Build: docker build -f deploy/nginx.Dockerfile -t oncoclass-nginx:bookworm deploy
ARG BASE_IMAGE=oncoclass-base:bookworm
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nginx \
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled/default \
 # Logs to the container's output (docker logs), as the official image does.
 && ln -sf /dev/stdout /var/log/nginx/access.log \
 && ln -sf /dev/stderr /var/log/nginx/error.log
COPY nginx.conf /etc/nginx/conf.d/default.conf
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
