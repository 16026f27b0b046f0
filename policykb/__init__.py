"""policykb: shared core of the Korean policy knowledge base (document model, document
store, search backends, query language and settings), used by ``ingest`` and ``search_app``."""

__version__ = "0.1.0"
