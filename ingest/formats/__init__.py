"""One module per file format, shared types in :mod:`ingest.formats.base`, zip/XML safety
in :mod:`ingest.formats.safezip`; :mod:`ingest.extract` sniffs a file and dispatches."""
