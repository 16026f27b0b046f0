"""The OpenAPI 3.1 description of the JSON API (served at /api/openapi.json)."""

from __future__ import annotations

from policykb import __version__
from policykb.models import DOC_TYPES, HIT_HEAD, SORTS
from policykb.suggest import KINDS as SUGGESTION_KINDS
from policykb.suggest import MAX_LIMIT as MAX_SUGGEST_LIMIT
from policykb.suggest import MAX_QUERY as MAX_SUGGEST_QUERY

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_FACET = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["value", "count"],
        "additionalProperties": False,
        "properties": {"value": _STR, "count": _INT},
    },
}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {"code": _STR, "message": _STR, "param": _STR},
        }
    },
}


def _param(name: str, schema: dict, description: str, repeat: bool = False) -> dict:
    p = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "array", "items": schema} if repeat else schema,
    }
    if repeat:
        p.update(style="form", explode=True)
    return p


SEARCH_PARAMS = [
    _param("q", {"type": "string", "maxLength": 500}, "검색어 (query language, see README)"),
    _param("institute", _STR, "기관 (repeat for OR)", repeat=True),
    _param("region", _STR, "시·도 (repeat for OR)", repeat=True),
    _param("doc_type", {"type": "string", "enum": list(DOC_TYPES)}, "문서 유형", repeat=True),
    _param(
        "publisher",
        _STR,
        "발행기관 (repeat for OR; 미상 for documents without one; a name over 100 characters "
        "is a 400)",
        repeat=True,
    ),
    _param("author", _STR, "저자 (repeat for OR)", repeat=True),
    _param("year_from", {"type": "integer", "minimum": 1900, "maximum": 2100}, "시작 연도"),
    _param(
        "year_to",
        {"type": "integer", "minimum": 1900, "maximum": 2100},
        "끝 연도. year_from보다 이르면 400 (param: year_from)",
    ),
    _param("sort", {"type": "string", "enum": list(SORTS)}, "정렬"),
    _param("match", {"type": "string", "enum": ["auto", "all", "any"]}, "낱말 일치 방식"),
    _param("page", {"type": "integer", "minimum": 1, "maximum": 1000}, "페이지"),
    _param("size", {"type": "integer", "minimum": 1, "maximum": 100}, "페이지 크기"),
]

SCHEMAS = {
    "Error": _ERROR,
    "SearchResult": {
        "type": "object",
        "required": ["total", "page", "size", "hits", "facets"],
        "properties": {
            "total": {
                "type": "integer",
                "description": "documents matching completely (every word of a short query)",
            },
            "partial_total": {
                "type": "integer",
                "description": "partial matches listed after the complete ones (a short "
                "query that few documents match completely: documents lacking one of its "
                "words; their hits have partial: true)",
            },
            "page": _INT,
            "size": _INT,
            "took_ms": {"type": "number"},
            "notices": {"type": "array", "items": _STR},
            "hits": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [*HIT_HEAD, "snippet", "snippet_text", "page"],
                    "properties": {
                        "id": _STR,
                        "title": _STR,
                        "institute": _STR,
                        "regions": {"type": "array", "items": _STR},
                        "doc_type": {"type": "string", "enum": list(DOC_TYPES)},
                        "date": _NSTR,
                        "snippet": {
                            "type": "string",
                            "contentMediaType": "text/html",
                            "description": "HTML: the text is escaped, matched words are "
                            "wrapped in <mark>…</mark>; insert as HTML, not as text.",
                        },
                        "snippet_text": {
                            "type": "string",
                            "description": "The same snippet as plain text (no markup).",
                        },
                        "page": {
                            "type": ["integer", "null"],
                            "description": "page of the snippet's passage",
                        },
                        "pages": {
                            "type": "array",
                            "items": _INT,
                            "description": "every page where the query matches, ascending "
                            "(empty for documents without page numbers)",
                        },
                        "matched_passages": {
                            "type": "integer",
                            "description": "passages of the document that contain a query word",
                        },
                        "score": {"type": "number"},
                        "publisher": _STR,
                        "authors": {"type": "array", "items": _STR},
                        "url": _NSTR,
                        "has_original": {
                            "type": "boolean",
                            "description": "false: 원문 없음 (catalogue record only)",
                        },
                        "partial": {
                            "type": "boolean",
                            "description": "true: 일부 낱말만 포함 (listed after every "
                            "complete match)",
                        },
                        "missing_words": {
                            "type": "array",
                            "items": _STR,
                            "description": "the query words a partial match lacks",
                        },
                    },
                },
            },
            "facets": {
                "type": "object",
                "required": ["institute", "region", "doc_type", "year"],
                "properties": {
                    k: _FACET
                    for k in ("institute", "region", "doc_type", "year", "publisher", "author")
                },
            },
        },
    },
    "Document": {
        "type": "object",
        "required": ["id", "title", "institute", "regions", "doc_type", "date", "passages"],
        "properties": {
            "id": _STR,
            "title": _STR,
            "institute": _STR,
            "institute_published": _NSTR,
            "regions": {"type": "array", "items": _STR},
            "doc_type": _STR,
            "date": _NSTR,
            "url": _NSTR,
            "page_count": {"type": ["integer", "null"]},
            "department": _NSTR,
            "publisher": {"type": "string", "description": "발행기관; 미상 when unknown"},
            "ocr": {
                "type": ["object", "null"],
                "description": "set when some pages were read by OCR (Tesseract)",
                "properties": {
                    "confidence": {"type": ["number", "null"]},
                    "pages": {"type": "array", "items": _INT},
                },
            },
            "authors": {"type": "array", "items": _STR},
            "has_original": {"type": "boolean"},
            "contacts": {"type": "array", "items": _STR},
            "places": {"type": "array", "items": _STR},
            "copies": {"type": "array", "items": {"type": "object"}},
            "related": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["id", "title", "institute", "date"],
                    "properties": {"id": _STR, "title": _STR, "institute": _STR, "date": _NSTR},
                },
            },
            "passages_total": {"type": "integer", "description": "passages in the document"},
            "passages_offset": {"type": "integer"},
            "passages_next": {
                "type": ["integer", "null"],
                "description": "offset of the next slice of passages, null at the end",
            },
            "passages": {
                "type": "array",
                "description": "one slice of the text: passages_offset .. +limit",
                "items": {
                    "type": "object",
                    "required": ["seq", "page", "text"],
                    "properties": {
                        "seq": _INT,
                        "page": {"type": ["integer", "null"]},
                        "text": _STR,
                    },
                },
            },
        },
    },
    "Analysis": {
        "type": "object",
        "required": ["timeline", "regions"],
        "properties": {
            "timeline": {
                "type": "object",
                "required": ["group_by", "years", "totals", "series"],
                "properties": {
                    "group_by": {"enum": ["institute", "region"]},
                    "years": {"type": "array", "items": _STR},
                    "totals": {"type": "object", "additionalProperties": _INT},
                    "series": {"type": "object"},
                },
            },
            "regions": _FACET,
        },
    },
    "SavedSearches": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["id", "key", "name", "query", "search_url", "feed_url"],
            "properties": {
                "id": _INT,
                "key": _STR,
                "name": _STR,
                "query": _STR,
                "search_url": _STR,
                "feed_url": _STR,
            },
        },
    },
    "Suggestions": {
        "type": "object",
        "required": ["q", "suggestions"],
        "properties": {
            "q": _STR,
            "suggestions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["text", "kind", "match", "weight"],
                    "additionalProperties": False,
                    "properties": {
                        "text": _STR,
                        "kind": {"enum": list(SUGGESTION_KINDS)},
                        "match": {"enum": ["prefix", "initials", "layout", "typo"]},
                        "weight": _INT,
                    },
                },
            },
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "backend"],
        "properties": {"status": _STR, "backend": _STR, "documents": _INT},
    },
}


def _json(ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}},
    }


BAD = _json("Error", "잘못된 요청 (Korean message)")
UNAVAILABLE = _json("Error", "검색 엔진에 연결할 수 없음")
# Answered by every route (the app's error handlers and limits, not the view).
COMMON = {
    "405": {
        **_json("Error", "허용되지 않는 요청 방식 (Allow names the allowed methods)"),
        "headers": {"Allow": {"schema": _STR, "description": "allowed methods"}},
    },
    "414": _json("Error", "주소(URL)가 너무 긺"),
    "429": {
        **_json("Error", "요청이 너무 많음"),
        "headers": {"Retry-After": {"schema": _INT, "description": "seconds to wait"}},
    },
}


def _with_common(paths: dict) -> dict:
    for ops in paths.values():
        for op in ops.values():
            for status, response in COMMON.items():
                op["responses"].setdefault(status, response)
    return paths


def spec() -> dict:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "policykb API",
            "version": __version__,
            "description": "한국 정책연구 문서 검색 API",
        },
        "paths": _with_common(
            {
                "/api/search": {
                    "get": {
                        "summary": "문서 검색",
                        "parameters": SEARCH_PARAMS,
                        "responses": {
                            "200": _json("SearchResult", "검색 결과"),
                            "400": BAD,
                            "503": UNAVAILABLE,
                        },
                    }
                },
                "/api/suggest": {
                    "get": {
                        "summary": "검색어 추천 (자동 완성, 초성, 오타, 한/영 전환)",
                        "parameters": [
                            {
                                **_param(
                                    "q",
                                    {"type": "string", "maxLength": MAX_SUGGEST_QUERY},
                                    "입력 중인 검색어 (띄어쓰기 무시; ㅅㅁㅌ, tmakxm도 가능)",
                                ),
                                "required": True,
                            },
                            _param(
                                "limit",
                                {"type": "integer", "minimum": 1, "maximum": MAX_SUGGEST_LIMIT},
                                "추천 수 (기본 10)",
                            ),
                        ],
                        "responses": {
                            "200": _json(
                                "Suggestions", "추천 검색어 (많이 쓰인 것, 잘 맞는 것 먼저)"
                            ),
                            "400": BAD,
                        },
                    }
                },
                "/api/documents/{doc_id}": {
                    "get": {
                        "summary": "문서",
                        "parameters": [
                            {"name": "doc_id", "in": "path", "required": True, "schema": _STR},
                            _param("offset", {"type": "integer", "minimum": 0}, "첫 문단 번호"),
                            _param(
                                "limit",
                                {"type": "integer", "minimum": 1, "maximum": 1000, "default": 200},
                                "문단 수",
                            ),
                        ],
                        "responses": {
                            "200": _json("Document", "문서"),
                            "400": BAD,
                            "404": _json("Error", "없음"),
                            "503": UNAVAILABLE,
                        },
                    }
                },
                "/api/analysis": {
                    "get": {
                        "summary": "연도·지역 분석",
                        "parameters": [
                            *SEARCH_PARAMS,
                            _param(
                                "group_by",
                                {"type": "string", "enum": ["institute", "region"]},
                                "묶음",
                            ),
                        ],
                        "responses": {
                            "200": _json("Analysis", "분석"),
                            "400": BAD,
                            "503": UNAVAILABLE,
                        },
                    }
                },
                "/api/saved": {
                    "get": {
                        "summary": "저장한 검색",
                        "responses": {"200": _json("SavedSearches", "이 브라우저·사용자의 목록")},
                    }
                },
                "/api/openapi.json": {
                    "get": {
                        "summary": "이 API 설명 (OpenAPI 3.1)",
                        "responses": {
                            "200": {
                                "description": "OpenAPI document",
                                "content": {"application/json": {"schema": {"type": "object"}}},
                            }
                        },
                    }
                },
                "/healthz": {
                    "get": {
                        "summary": "상태",
                        "responses": {
                            "200": _json("Health", "정상"),
                            "503": _json("Health", "검색 엔진 오류"),
                        },
                    }
                },
            }
        ),
        "components": {"schemas": SCHEMAS},
    }
