"""Ingestion: discover -> extract -> normalize -> metadata -> passages -> analyze -> index.

Each stage is a small module; :mod:`ingest.pipeline` runs them in order per file and
stores the outcome (indexed or failed, with the reason) on the file's record.
"""
