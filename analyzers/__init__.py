"""Korean text analysis shared by indexing and querying (one code path for both)."""

from analyzers.kiwi import AnalyzedToken, Analyzer, get_analyzer

__all__ = ["AnalyzedToken", "Analyzer", "get_analyzer"]
