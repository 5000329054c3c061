# Assay: one image for every process (web, worker, beat, GPU worker); docker-compose.yml picks
# the command. PyTorch is installed first, from the CPU index by default, so that the requirements
# do not pull gigabytes of CUDA wheels; the GPU worker builds it with TORCH_INDEX_URL set to a
# CUDA index instead (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    ASSAY_DATA_DIR=/data

WORKDIR /app

ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0

COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY . .
RUN useradd --system --uid 1000 --home-dir /app assay \
    && mkdir -p /data \
    && chown assay:assay /data

USER assay
VOLUME ["/data"]
EXPOSE 8000

# The web process (migrations and static files first); docker-compose.yml overrides the
# command for the worker, beat and GPU worker.
CMD ["python", "deploy/stack.py", "--release", "--only", "web", "--bind", "0.0.0.0:8000"]
