# OncoClass service image. Build: docker build -t oncoclass .
# The model and the CIViC data live in the /data volume (ONCOCLASS_DATA_HOME): train once with
#   docker compose run --rm oncoclass sh -c "oncoclass data fetch civic && oncoclass train"
FROM python:3.11-slim

# PyTorch's CPU build keeps the image small; point TORCH_INDEX_URL at a CPU wheel index.
ARG TORCH_INDEX_URL=""
WORKDIR /app
COPY pyproject.toml README.md ./
COPY oncoclass ./oncoclass
RUN pip install --no-cache-dir ${TORCH_INDEX_URL:+--index-url $TORCH_INDEX_URL} torch==2.13.0 \
 && pip install --no-cache-dir ".[postgres]"

RUN useradd --create-home oncoclass && mkdir /data && chown oncoclass /data
USER oncoclass
ENV ONCOCLASS_DATA_HOME=/data \
    ONCOCLASS_HOST=0.0.0.0 \
    HF_HUB_OFFLINE=1
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/health')"
CMD ["oncoclass", "serve", "--host", "0.0.0.0", "--port", "8000"]
