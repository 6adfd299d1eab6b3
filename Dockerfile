# Flywheel Studio for a team instance. Not built on the development machines (no Docker engine there);
# see the README's "Deploying for a team".
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    FLYWHEEL_DATA_DIR=/data FLYWHEEL_HOSTED=1
RUN useradd --create-home --uid 10001 flywheel && mkdir -p /data && chown flywheel /data
WORKDIR /app
COPY pyproject.toml README.md ./
COPY flywheel_core ./flywheel_core
COPY app.py ./
COPY pages ./pages
COPY ui ./ui
COPY .streamlit/config.toml ./.streamlit/config.toml
RUN pip install --no-cache-dir -e .
USER flywheel
EXPOSE 8501
VOLUME ["/data"]
HEALTHCHECK CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health')"
CMD ["flywheel", "app", "--host", "0.0.0.0", "--port", "8501"]
