"""The search-backend interface. Backends receive analyzed clauses (policykb.query) and
plain filters, never user syntax, and return document ids, scores and facet counts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from analyzers.bigram import char_bigrams
from policykb.errors import EngineError
from policykb.models import BackendResult, Document, Filters, Token
from policykb.query import Bool

# Gap inserted between passages so phrases never match across a passage boundary.
PASSAGE_POSITION_GAP = 100
# Weights chosen by ablation on the dev halves of `policykb eval` (see bench/README.md).
TITLE_BOOST = 1.0  # 2.0 gained on no dev set (kdi -0.005): the title counts as body text
PHRASE_BOOST = 2.0  # the whole run of words as an exact phrase
PAIR_BOOST = 0.5  # each pair of neighbouring words within PAIR_SLOP positions (proximity)
PAIR_SLOP = 3
BIGRAM_BOOST = 1.2  # the character-bigram fallback field (0.8 before; 1.2 gained on 3 dev sets)


def proximity_pairs(parts: tuple[str, ...]) -> list[tuple[str, str]]:
    """Neighbouring word pairs of a run, for the proximity bonus."""
    pairs = []
    for a, b in zip(parts, parts[1:], strict=False):
        if a != b and (a, b) not in pairs:
            pairs.append((a, b))
    return pairs


# Every term alternative is looked up in these fields. Parts (morphemes at consecutive
# positions, for phrases) and joined compounds live in separate fields so both engines
# can index them the same way (Elasticsearch cannot stack two tokens on one position
# through a whitespace analyzer).
def term_fields() -> tuple[tuple[str, float], ...]:
    """(field, boost) pairs every term alternative is looked up in. Weights are read at
    query time so `policykb eval --ablate` can switch a component off."""
    return (
        ("title", TITLE_BOOST),
        ("title_joined", TITLE_BOOST),
        ("body", 1.0),
        ("body_joined", 1.0),
    )


# Ranking components `policykb eval --ablate` can switch off (see bench/README.md).
COMPOUND_BONUS = True  # a single term spelling the whole run of words
DIS_MAX = True  # alternatives of a word count once (their best), not summed
COORD_BONUS = 0.5  # soft minimum-should-match: extra share of the score for meeting it


class BackendError(EngineError, RuntimeError):
    """The engine refused a request or cannot be reached; ``message`` (Korean) is safe to
    show, ``reason`` carries the engine's own words."""


class IndexOutdated(BackendError):
    """The index was built by an older schema or analyzer and must be rebuilt."""


def body_tokens(doc: Document) -> list[Token]:
    """All passage tokens of ``doc`` with positions made continuous across passages, a gap
    of :data:`PASSAGE_POSITION_GAP` between passages."""
    out: list[Token] = []
    base = 0
    for p in doc.passages:
        top = -1
        for t in p.tokens:
            out.append(Token(t.term, t.start, t.end, base + t.position, t.joined))
            top = max(top, t.position)
        base += top + 1 + PASSAGE_POSITION_GAP
    return out


def passage_bigrams(doc: Document) -> list[list[str]]:
    """Character bigrams of each passage's text (the fallback field)."""
    return [char_bigrams(p.text) for p in doc.passages]


def split_joined(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """(parts, joined compounds)."""
    return [t for t in tokens if not t.joined], [t for t in tokens if t.joined]


@dataclass
class IndexOutcome:
    indexed: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # doc id -> reason


def date_number(date: str | None) -> int:
    return int(date.replace("-", "")) if date else 0


ProgressFn = Callable[[int, int], None]


class SearchBackend(ABC):
    name: str = "abstract"
    # True when the index was made by an older schema and must be refilled from the store.
    needs_rebuild: bool = False

    @abstractmethod
    def index(self, docs: Iterable[Document]) -> IndexOutcome:
        """Add or replace ``docs``; committed and visible to searches on return. Documents
        the engine refused are listed in the outcome's ``errors``."""

    @abstractmethod
    def delete(self, ids: Iterable[str]) -> None:
        """Remove documents by id; committed on return."""

    @abstractmethod
    def search(
        self,
        query: Bool,
        filters: Filters,
        sort: str,
        offset: int,
        limit: int,
        facets: bool = True,
    ) -> BackendResult:
        """Matching ids in order, the total, and facet counts (each facet counted under
        the query and every filter except its own)."""

    @abstractmethod
    def rebuild(
        self, docs: Iterable[Document], total: int, progress: ProgressFn | None = None
    ) -> None:
        """Build a new index generation from ``docs`` and switch readers to it atomically;
        searches keep answering from the old generation until the switch."""

    def doc_freqs(self, terms: list[str]) -> dict[str, int]:
        """How many documents contain each term in their body (parts or joined compounds);
        used to keep the most informative terms of a long query. Default: unknown ({})."""
        return {}

    @abstractmethod
    def count(self) -> int: ...

    @abstractmethod
    def info(self) -> dict: ...

    def close(self) -> None:  # noqa: B027 - optional hook
        pass
