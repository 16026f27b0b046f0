"""Exports of documents and result sets: CSV, RIS, BibTeX and Atom (no web framework)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from xml.sax.saxutils import escape

from policykb.models import HIT_HEAD, UNKNOWN_PUBLISHER, Document

CSV_COLUMNS = (
    *HIT_HEAD,
    "page",
    "url",
    "link",
    "snippet",
    "publisher",
)
RIS_TYPES = {
    "보도자료": "PRESS",
    "연구보고서": "RPRT",
    "정책브리프": "RPRT",
    "세미나자료": "CONF",
    "정책연구": "RPRT",
    "규제영향분석서": "GOVDOC",
    "공고·제안요청서": "GOVDOC",
    "결재문서": "GOVDOC",
    "서식·별표": "GOVDOC",
    "기타": "GEN",
}
BIB_TYPES = {
    "보도자료": "misc",
    "연구보고서": "techreport",
    "정책브리프": "techreport",
    "세미나자료": "inproceedings",
    "정책연구": "techreport",
    "기타": "misc",
}


def publisher_name(doc: Document) -> str:
    """The issuing body; for a document without one the institute as printed (미상 when
    neither is known)."""
    if doc.publisher and doc.publisher != UNKNOWN_PUBLISHER:
        return doc.publisher
    return doc.institute_published or doc.institute or UNKNOWN_PUBLISHER


def csv_rows(rows: Iterable[dict]) -> Iterator[str]:
    """CSV text, a header then one line per row, yielded line by line (for streaming).
    Starts with a BOM so spreadsheet programs read the Korean text as UTF-8."""
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    yield "\ufeff" + buf.getvalue()
    for row in rows:
        buf.seek(0)
        buf.truncate()
        writer.writerow([_csv_safe(row.get(c, "")) for c in CSV_COLUMNS])
        yield buf.getvalue()


def _csv_safe(value) -> str:
    if isinstance(value, list):
        value = ";".join(value)
    text = "" if value is None else str(value)
    # Spreadsheet formula injection: a cell must not start with = + - @.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def ris(doc: Document, link: str) -> str:
    lines = [f"TY  - {RIS_TYPES.get(doc.doc_type, 'GEN')}", f"TI  - {doc.title}"]
    for author in doc.authors:
        lines.append(f"AU  - {author}")
    lines.append(f"PB  - {publisher_name(doc)}")
    if doc.department:
        lines.append(f"AD  - {doc.department}")
    if doc.date:
        lines.append(f"PY  - {doc.date[:4]}")
        lines.append(f"DA  - {doc.date.replace('-', '/')}")
    if doc.regions:
        lines.append(f"CY  - {', '.join(doc.regions)}")
    lines.append(f"M3  - {doc.doc_type}")
    lines.append(f"UR  - {doc.url or link}")
    lines.append(f"ID  - {doc.id}")
    lines.append("LA  - ko")
    lines.append("ER  - ")
    return "\n".join(lines) + "\n"


def _bib_escape(text: str) -> str:
    return re.sub(r"([&%$#_{}])", r"\\\1", text).replace("~", r"\~{}")


def bibtex(doc: Document, link: str) -> str:
    kind = BIB_TYPES.get(doc.doc_type, "misc")
    fields = [("title", "{" + _bib_escape(doc.title) + "}")]
    if doc.authors:
        fields.append(("author", " and ".join(_bib_escape(a) for a in doc.authors)))
    else:
        fields.append(("author", "{" + _bib_escape(publisher_name(doc)) + "}"))
    publisher = _bib_escape(publisher_name(doc))
    fields.append(("institution" if kind == "techreport" else "publisher", publisher))
    if doc.date:
        fields += [("year", doc.date[:4]), ("month", str(int(doc.date[5:7])))]
    fields += [
        ("type", _bib_escape(doc.doc_type)),
        ("url", doc.url or link),
        ("language", "korean"),
        ("note", "policykb " + doc.id),
    ]
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@{kind}{{policykb-{doc.id},\n{body}\n}}\n"


def atom(
    feed_id: str,
    title: str,
    self_link: str,
    alt_link: str,
    entries: Iterable[tuple[Document, str, str]],
) -> str:
    """An Atom 1.0 feed; entries are (document, link, summary text)."""
    entries = list(entries)
    updated = max((_ts(d.date) for d, _, _ in entries), default=_ts(None))
    out = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="ko">',
        f"  <id>{escape(feed_id)}</id>",
        f"  <title>{escape(title)}</title>",
        f"  <updated>{updated}</updated>",
        f'  <link rel="self" type="application/atom+xml" href="{escape(self_link)}"/>',
        f'  <link rel="alternate" type="text/html" href="{escape(alt_link)}"/>',
        "  <author><name>policykb</name></author>",
        "  <generator>policykb</generator>",
    ]
    for doc, link, summary in entries:
        out += [
            "  <entry>",
            f"    <id>urn:policykb:doc:{escape(doc.id)}</id>",
            f"    <title>{escape(doc.title)}</title>",
            f"    <updated>{_ts(doc.date)}</updated>",
            f'    <link rel="alternate" type="text/html" href="{escape(link)}"/>',
            f"    <author><name>{escape(doc.institute)}</name></author>",
            f'    <category term="{escape(doc.doc_type)}"/>',
            f"    <summary>{escape(summary)}</summary>",
            "  </entry>",
        ]
    out.append("</feed>")
    return "\n".join(out) + "\n"


def _ts(date: str | None) -> str:
    if not date:
        return datetime(1970, 1, 1, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{date}T00:00:00Z"
