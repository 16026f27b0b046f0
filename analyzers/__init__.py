"""Korean text analysis shared by indexing and querying (one code path for both)."""

from analyzers.kiwi import AnalyzedToken, Analyzer, get_analyzer
from analyzers.tokens import Token

__all__ = ["AnalyzedToken", "Analyzer", "Token", "get_analyzer"]
