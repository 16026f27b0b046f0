"""Links between search pages: one builder for the result page's facets and chips and
the analysis page's year and region links."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import url_for

from policykb.models import FacetValue
from policykb.service import SearchRequest

# facet name -> (query parameter, SearchRequest attribute); "year" is a range of its own.
FACET_PARAMS = {
    "institute": ("institute", "institutes"),
    "region": ("region", "regions"),
    "doc_type": ("doc_type", "doc_types"),
    "publisher": ("publisher", "publishers"),
    "author": ("author", "authors"),
}


def search_url(req: SearchRequest, **changes) -> str:
    """The result page of ``req`` with ``changes`` (parameter name -> value)."""
    params = req.to_params(**changes)
    return url_for("ui.search") + ("?" + urlencode(params) if params else "")


def toggled(values: tuple[str, ...], value: str) -> list[str]:
    """``values`` without ``value`` when it is there, else with it added."""
    return [v for v in values if v != value] if value in values else [*values, value]


def facet_selected(req: SearchRequest, facet: str, value: str) -> bool:
    if facet == "year":
        return req.year_from == req.year_to == int(value)
    return value in getattr(req, FACET_PARAMS[facet][1])


def facet_url(req: SearchRequest, facet: str, value: str, only: bool = False) -> str:
    """The search narrowed by one facet value, from page 1. By default the link toggles
    the value (adds it to the selection, or removes it when selected); with ``only`` it
    selects just that value."""
    if facet == "year":
        year = int(value)
        if facet_selected(req, facet, value) and not only:
            return search_url(req, year_from=None, year_to=None, page=1)
        return search_url(req, year_from=year, year_to=year, page=1)
    param, attr = FACET_PARAMS[facet]
    values = [value] if only else toggled(getattr(req, attr), value)
    return search_url(req, **{param: values, "page": 1})


def facet_links(req: SearchRequest, facets: dict[str, list[FacetValue]]) -> dict[str, list[dict]]:
    """Each facet's values as ``{"value", "count", "selected", "url"}`` (toggle links)."""
    return {
        facet: [
            {
                "value": fv.value,
                "count": fv.count,
                "selected": facet_selected(req, facet, fv.value),
                "url": facet_url(req, facet, fv.value),
            }
            for fv in values
        ]
        for facet, values in facets.items()
    }


CHIP_LABELS = {
    "institute": "기관",
    "region": "지역",
    "doc_type": "유형",
    "publisher": "발행기관",
    "author": "저자",
}


def chips(req: SearchRequest) -> list[tuple[str, str, str]]:
    """The active filters as (label, value, link removing it)."""
    out = [
        (label, name, facet_url(req, facet, name))
        for facet, label in CHIP_LABELS.items()
        for name in getattr(req, FACET_PARAMS[facet][1])
    ]
    if req.year_from or req.year_to:
        label = f"{req.year_from or ''}–{req.year_to or ''}"
        out.append(("연도", label, search_url(req, year_from=None, year_to=None, page=1)))
    return out
