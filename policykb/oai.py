"""OAI-PMH 2.0 data provider (the protocol logic; ``search_app.views.oai`` only adapts it
to HTTP).

Items are the store's documents (catalogue records and ingested files alike; duplicate
copies are left out, their canonical document stands for them). An item's datestamp is
the time its document was last written. Sets: ``institute``, ``institute:<key>`` (the
registry's key), ``region`` and ``region:<code>`` (romanized 시·도 names). Deleted
documents are kept as tombstones and reported with ``status="deleted"``
(``deletedRecord`` = persistent).

Resumption tokens carry the request and the position reached, as ``(datestamp, id)`` of
the last item sent, never an offset: lists are ordered by that pair, so documents added,
changed or deleted between two requests never make a harvester skip an item (a changed
item gets a later datestamp and is delivered again near the end).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import json
import re
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from corpus import institutes as registry
from policykb.store import DocumentStore

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
OAI_SCHEMA = "http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd"
OAI_DC_SCHEMA = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
FORMATS = {"oai_dc": (OAI_DC_SCHEMA, OAI_DC_NS)}

# Romanized codes for the 17 시·도: setSpec allows only URL-safe ASCII.
REGION_CODES: dict[str, str] = {
    "서울": "seoul",
    "부산": "busan",
    "대구": "daegu",
    "인천": "incheon",
    "광주": "gwangju",
    "대전": "daejeon",
    "울산": "ulsan",
    "세종": "sejong",
    "경기": "gyeonggi",
    "강원": "gangwon",
    "충북": "chungbuk",
    "충남": "chungnam",
    "전북": "jeonbuk",
    "전남": "jeonnam",
    "경북": "gyeongbuk",
    "경남": "gyeongnam",
    "제주": "jeju",
}
_REGION_BY_CODE = {v: k for k, v in REGION_CODES.items()}

# Arguments each verb accepts: (required, optional, exclusive).
VERBS: dict[str, tuple[set[str], set[str], set[str]]] = {
    "Identify": (set(), set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}, set()),
    "ListSets": (set(), set(), {"resumptionToken"}),
    "GetRecord": ({"identifier", "metadataPrefix"}, set(), set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}, {"resumptionToken"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}, {"resumptionToken"}),
}

ET.register_namespace("", OAI_NS)
ET.register_namespace("oai_dc", OAI_DC_NS)
ET.register_namespace("dc", DC_NS)
ET.register_namespace("xsi", XSI_NS)


class OAIError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Item:
    id: str
    datestamp: float
    deleted: bool
    institute: str | None
    regions: list[str]


def format_datestamp(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(ts)))


_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def parse_datestamp(raw: str, name: str) -> tuple[float, bool]:
    """(epoch seconds, day granularity) of a from/until argument; badArgument if invalid."""
    try:
        if _DAY_RE.match(raw):
            return float(calendar.timegm(time.strptime(raw, "%Y-%m-%d"))), True
        if _SECOND_RE.match(raw):
            return float(calendar.timegm(time.strptime(raw, "%Y-%m-%dT%H:%M:%SZ"))), False
    except ValueError:
        pass
    raise OAIError("badArgument", f"'{name}' is not a valid UTC datestamp: {raw!r}")


def set_specs(institute: str | None, regions: Sequence[str]) -> list[str]:
    specs: list[str] = []
    inst = registry.lookup(institute) if institute else None
    if inst is not None:
        specs += ["institute", f"institute:{inst.key}"]
    codes = [REGION_CODES[r] for r in regions if r in REGION_CODES]
    if codes:
        specs.append("region")
        specs += [f"region:{c}" for c in codes]
    return specs


class OAIProvider:
    def __init__(
        self,
        store: DocumentStore,
        repository_name: str,
        admin_email: str,
        page_size: int = 100,
        repository_id: str = "policykb",
    ) -> None:
        self.store = store
        self.repository_name = repository_name
        self.admin_email = admin_email
        self.page_size = page_size
        self.repository_id = repository_id

    # ------------------------------------------------------------------ entry
    def respond(self, params: Mapping[str, Sequence[str]], base_url: str) -> bytes:
        """The XML response to a request's parameters (name -> values)."""
        root = ET.Element(f"{{{OAI_NS}}}OAI-PMH")
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_NS} {OAI_SCHEMA}")
        ET.SubElement(root, f"{{{OAI_NS}}}responseDate").text = format_datestamp(time.time())
        request_el = ET.SubElement(root, f"{{{OAI_NS}}}request")
        request_el.text = base_url
        try:
            verb, args = self._validate(params)
            for k, v in args.items():
                request_el.set(k, v)
            request_el.set("verb", verb)
            body = getattr(self, f"_{verb}")(args, base_url)
            root.append(body)
        except OAIError as exc:
            if exc.code in ("badVerb", "badArgument"):
                request_el.attrib.clear()  # the request is not echoed when it is illegal
            err = ET.SubElement(root, f"{{{OAI_NS}}}error", code=exc.code)
            err.text = exc.message
        return ET.tostring(root, encoding="utf-8", xml_declaration=True)

    def _validate(self, params: Mapping[str, Sequence[str]]) -> tuple[str, dict[str, str]]:
        verbs = list(params.get("verb") or [])
        if len(verbs) != 1:
            raise OAIError(
                "badVerb", "verb is missing" if not verbs else "verb is given more than once"
            )
        verb = verbs[0]
        if verb not in VERBS:
            raise OAIError("badVerb", f"illegal verb: {verb!r}")
        required, optional, exclusive = VERBS[verb]
        args: dict[str, str] = {}
        for name, values in params.items():
            if name == "verb":
                continue
            if name not in required | optional | exclusive:
                raise OAIError("badArgument", f"illegal argument for {verb}: {name!r}")
            if len(values) != 1:
                raise OAIError("badArgument", f"argument repeated: {name!r}")
            args[name] = values[0]
        if exclusive & set(args):
            if len(args) > 1:
                raise OAIError("badArgument", "resumptionToken must be the only argument")
            return verb, args
        missing = required - set(args)
        if missing:
            raise OAIError("badArgument", f"missing argument: {', '.join(sorted(missing))}")
        return verb, args

    def _el(self, parent: ET.Element | None, name: str, text: str | None = None) -> ET.Element:
        tag = f"{{{OAI_NS}}}{name}"
        el = ET.Element(tag) if parent is None else ET.SubElement(parent, tag)
        if text is not None:
            el.text = text
        return el

    # ------------------------------------------------------------------ verbs
    def _Identify(self, args: dict, base_url: str) -> ET.Element:
        body = self._el(None, "Identify")
        self._el(body, "repositoryName", self.repository_name)
        self._el(body, "baseURL", base_url)
        self._el(body, "protocolVersion", "2.0")
        self._el(body, "adminEmail", self.admin_email)
        self._el(body, "earliestDatestamp", format_datestamp(self._earliest()))
        self._el(body, "deletedRecord", "persistent")
        self._el(body, "granularity", GRANULARITY)
        return body

    def _ListMetadataFormats(self, args: dict, base_url: str) -> ET.Element:
        if "identifier" in args:
            self._item(args["identifier"])  # idDoesNotExist
        body = self._el(None, "ListMetadataFormats")
        for prefix, (schema, ns) in FORMATS.items():
            fmt = self._el(body, "metadataFormat")
            self._el(fmt, "metadataPrefix", prefix)
            self._el(fmt, "schema", schema)
            self._el(fmt, "metadataNamespace", ns)
        return body

    def _ListSets(self, args: dict, base_url: str) -> ET.Element:
        if "resumptionToken" in args:
            raise OAIError("badResumptionToken", "ListSets is never split: no token is valid")
        body = self._el(None, "ListSets")
        institutes = self.store.canonical_institutes()
        sets: list[tuple[str, str]] = [("institute", "기관"), ("region", "지역 (시·도)")]
        for name in institutes:
            inst = registry.lookup(name)
            if inst is not None:
                sets.append((f"institute:{inst.key}", inst.name))
        for region, code in REGION_CODES.items():
            sets.append((f"region:{code}", region))
        for spec, name in sets:
            s = self._el(body, "set")
            self._el(s, "setSpec", spec)
            self._el(s, "setName", name)
        return body

    def _GetRecord(self, args: dict, base_url: str) -> ET.Element:
        self._check_prefix(args["metadataPrefix"])
        item = self._item(args["identifier"])
        body = self._el(None, "GetRecord")
        self._record(body, item, base_url)
        return body

    def _ListIdentifiers(self, args: dict, base_url: str) -> ET.Element:
        return self._list("ListIdentifiers", args, base_url, headers_only=True)

    def _ListRecords(self, args: dict, base_url: str) -> ET.Element:
        return self._list("ListRecords", args, base_url, headers_only=False)

    # ---------------------------------------------------------------- helpers
    def _check_prefix(self, prefix: str) -> None:
        if prefix not in FORMATS:
            raise OAIError(
                "cannotDisseminateFormat", f"metadataPrefix {prefix!r} is not supported (oai_dc)"
            )

    def identifier(self, doc_id: str) -> str:
        return f"oai:{self.repository_id}:{doc_id}"

    def _doc_id(self, identifier: str) -> str | None:
        prefix = f"oai:{self.repository_id}:"
        return identifier[len(prefix) :] if identifier.startswith(prefix) else None

    def _item(self, identifier: str) -> Item:
        doc_id = self._doc_id(identifier)
        found = self.store.oai_item(doc_id) if doc_id else None
        if found is not None:
            return Item(*found)
        raise OAIError("idDoesNotExist", f"no item has the identifier {identifier!r}")

    def _earliest(self) -> float:
        earliest = self.store.earliest_change()
        return earliest if earliest is not None else time.time()

    def _set_filter(self, spec: str | None) -> tuple[str, str | None] | None:
        """The store's filter (see :meth:`DocumentStore.oai_page`) for a setSpec."""
        if not spec:
            return None
        if spec in ("institute", "region"):
            return spec, None
        kind, _, value = spec.partition(":")
        if kind == "institute" and value:
            try:
                inst = registry.by_key(value)
            except KeyError:
                inst = None
            if inst is not None:
                return "institute", inst.name
        if kind == "region" and value in _REGION_BY_CODE:
            return "region", _REGION_BY_CODE[value]
        raise OAIError("badArgument", f"no such set: {spec!r}")

    def _page(
        self, spec: str | None, lo: float | None, hi: float | None, after: tuple[float, str] | None
    ) -> tuple[list[Item], int]:
        rows, total = self.store.oai_page(self._set_filter(spec), lo, hi, after, self.page_size + 1)
        items = [Item(*r) for r in rows]
        return items, total

    def _list(self, verb: str, args: dict, base_url: str, headers_only: bool) -> ET.Element:
        if "resumptionToken" in args:
            state = decode_token(args["resumptionToken"], verb)
        else:
            self._check_prefix(args["metadataPrefix"])
            lo = hi = None
            lo_day = hi_day = None
            if "from" in args:
                lo, lo_day = parse_datestamp(args["from"], "from")
            if "until" in args:
                hi, hi_day = parse_datestamp(args["until"], "until")
                hi += 86400 if hi_day else 1  # until is inclusive
            if lo_day is not None and hi_day is not None and lo_day != hi_day:
                raise OAIError("badArgument", "from and until have different granularities")
            if lo is not None and hi is not None and lo >= hi:
                raise OAIError("badArgument", "from is later than until")
            state = {
                "p": args["metadataPrefix"],
                "s": args.get("set"),
                "lo": lo,
                "hi": hi,
                "after": None,
                "n": 0,
            }
        after = tuple(state["after"]) if state["after"] else None
        items, total = self._page(state["s"], state["lo"], state["hi"], after)
        if not items and after is None:
            raise OAIError("noRecordsMatch", "no items match the arguments")
        more = len(items) > self.page_size
        items = items[: self.page_size]
        body = self._el(None, verb)
        for item in items:
            if headers_only:
                self._header(body, item)
            else:
                self._record(body, item, base_url)
        if more or after is not None:
            token = self._el(body, "resumptionToken")
            token.set("completeListSize", str(total))
            token.set("cursor", str(state["n"]))
            if more:
                last = items[-1]
                nxt = dict(state, after=[last.datestamp, last.id], n=state["n"] + len(items))
                token.text = encode_token(nxt, verb)
        return body

    def _header(self, parent: ET.Element, item: Item) -> ET.Element:
        header = self._el(parent, "header")
        if item.deleted:
            header.set("status", "deleted")
        self._el(header, "identifier", self.identifier(item.id))
        self._el(header, "datestamp", format_datestamp(item.datestamp))
        for spec in set_specs(item.institute, item.regions):
            self._el(header, "setSpec", spec)
        return header

    def _record(self, parent: ET.Element, item: Item, base_url: str) -> None:
        record = self._el(parent, "record")
        self._header(record, item)
        if item.deleted:
            return
        doc = self.store.get_document(item.id, with_passages=False)
        if doc is None:  # deleted between the listing and now
            return
        metadata = self._el(record, "metadata")
        dc = ET.SubElement(metadata, f"{{{OAI_DC_NS}}}dc")
        dc.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA}")

        def add(name: str, value: str | None) -> None:
            if value:
                ET.SubElement(dc, f"{{{DC_NS}}}{name}").text = value

        add("title", doc.title)
        for author in doc.authors:
            add("creator", author)
        add("publisher", doc.institute if doc.institute != "미상" else None)
        add("date", doc.date[:4] if doc.date and doc.date.endswith("-01-01") else doc.date)
        add("type", doc.doc_type)
        add("type", "Text")
        add("identifier", doc.url)
        add("identifier", base_url.rsplit("/oai", 1)[0] + f"/documents/{doc.id}")
        add("language", "ko")
        for region in doc.regions:
            add("coverage", region)
        if not doc.has_original:
            add("description", "원문 없음 (서지 정보만 있음)")


def encode_token(state: dict, verb: str) -> str:
    raw = json.dumps({"v": verb, **state}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, verb: str) -> dict:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
        if not isinstance(state, dict) or state.pop("v", None) != verb:
            raise ValueError("wrong verb")
        if state.get("p") not in FORMATS or not isinstance(state.get("n"), int):
            raise ValueError("bad fields")
        after = state.get("after")
        if after is not None and not (
            isinstance(after, list)
            and len(after) == 2
            and isinstance(after[0], (int, float))
            and isinstance(after[1], str)
        ):
            raise ValueError("bad position")
        for k in ("lo", "hi"):
            if state.get(k) is not None and not isinstance(state[k], (int, float)):
                raise ValueError("bad range")
        if state.get("s") is not None and not isinstance(state["s"], str):
            raise ValueError("bad set")
        return state
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise OAIError("badResumptionToken", f"the resumptionToken is invalid: {exc}") from None
