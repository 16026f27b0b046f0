# policykb web app (served by gunicorn). Build context: the repository root.
FROM python:3.11-slim
WORKDIR /app
# OCR of PDFs without a usable text layer (POLICYKB_OCR=auto)
RUN apt-get update && apt-get install -y --no-install-recommends tesseract-ocr tesseract-ocr-kor \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md ./
COPY policykb ./policykb
COPY analyzers ./analyzers
COPY ingest ./ingest
COPY search_app ./search_app
COPY corpus ./corpus
COPY wiring ./wiring
RUN pip install --no-cache-dir . gunicorn
ENV POLICYKB_DATA_DIR=/data
EXPOSE 5000
CMD ["sh", "-c", "policykb ingest --quiet /app/corpus/sample; exec gunicorn -w 2 -b 0.0.0.0:5000 'wiring.wsgi:create_app()'"]
