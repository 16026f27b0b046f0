"""Search backends behind one interface (see :mod:`policykb.backends.base`)."""

from __future__ import annotations

from policykb.backends.base import BackendError, IndexOutdated, QueryRejected, SearchBackend
from policykb.settings import Settings


def open_backend(settings: Settings) -> SearchBackend:
    if settings.backend == "elasticsearch":
        from policykb.backends.elastic import ElasticBackend

        return ElasticBackend(
            settings.es_url, settings.es_index, settings.es_shards, settings.es_replicas
        )
    from policykb.backends.embedded import EmbeddedBackend

    return EmbeddedBackend(settings.index_dir)


__all__ = ["BackendError", "IndexOutdated", "QueryRejected", "SearchBackend", "open_backend"]
