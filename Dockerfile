# The app as a container: Python 3.11 slim, non-root uid 1000 (what Hugging Face Spaces expects), port 7860.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SENTIMENT_DATA_DIR=/data \
    GRADIO_TEMP_DIR=/data/gradio \
    HF_HOME=/data/hf

RUN useradd --create-home --uid 1000 user \
    && mkdir -p /data \
    && chown user:user /data

WORKDIR /home/user/app

# Dependencies in their own layer: rebuilt only when requirements.txt changes. torch comes from the CPU index
# (the PyPI wheel of the same version pulls several GB of CUDA libraries).
COPY requirements.txt .
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu -r requirements.txt

COPY --chown=1000:1000 app.py ./
COPY --chown=1000:1000 sentiment ./sentiment
COPY --chown=1000:1000 scheduler ./scheduler
# the LoRA loop the app's retrain job runs and the publishing to the Hub it offers (scheduler/retrain.py); the
# CLI's tracking stays unused here
COPY --chown=1000:1000 finetune ./finetune

USER 1000:1000
VOLUME ["/data"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:7860/health', timeout=4).status != 200)"]
CMD ["python", "app.py"]
