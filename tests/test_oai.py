"""OAI-PMH 2.0 at /oai: a real harvester (sickle) takes the whole repository through
resumption tokens; every response validates against the OAI-PMH and oai_dc schemas."""

from __future__ import annotations

import json
import sys
import threading
from urllib.parse import urlencode

import pytest
from lxml import etree
from werkzeug.serving import make_server

from ingest.catalogue import CatalogueImporter
from tests.catalogue_helpers import ri_portal_sample
from tests.conftest import REPO, is_ci, make_runtime

OAI = "{http://www.openarchives.org/OAI/2.0/}"
PAGE = 40


@pytest.fixture(scope="module")
def schema():
    sys.path.insert(0, str(REPO / "scripts"))
    import oai_schemas

    try:
        folder = oai_schemas.fetch()
    except Exception as exc:  # no package index reachable
        if is_ci():
            pytest.fail(f"OAI-PMH schemas unavailable: {exc}")
        pytest.skip(f"OAI-PMH schemas unavailable: {exc}")

    class Local(etree.Resolver):
        def resolve(self, url, pubid, context):
            name = url.rsplit("/", 1)[-1]
            if (folder / name).is_file():
                return self.resolve_filename(str(folder / name), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Local())
    wrapper = (
        '<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">'
        f'<xs:import namespace="http://www.openarchives.org/OAI/2.0/" '
        f'schemaLocation="{(folder / "OAI-PMH.xsd").as_uri()}"/>'
        f'<xs:import namespace="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        f'schemaLocation="{(folder / "oai_dc.xsd").as_uri()}"/>'
        "</xs:schema>"
    )
    doc = etree.fromstring(wrapper.encode(), parser, base_url=(folder / "w.xsd").as_uri())
    return etree.XMLSchema(doc)


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    base = tmp_path_factory.mktemp("oai")
    rt = make_runtime(base / "data", oai_page_size=PAGE)
    regional, national = ri_portal_sample(base / "cat", 150, 40)
    report = CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([regional, national])
    assert report.imported == 190
    # Delete some records (a sync without them): they stay as tombstones.
    records = json.loads(regional.read_text(encoding="utf-8"))
    regional.write_text(json.dumps(records[5:], ensure_ascii=False), encoding="utf-8")
    report = CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([regional], sync=True)
    assert report.removed == 5
    from wiring.wsgi import create_app

    app = create_app({"TESTING": True}, settings=rt.settings)
    app.extensions["policykb"] = rt
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rt, app, f"http://127.0.0.1:{server.server_port}/oai"
    server.shutdown()


def get(app, schema, **params):
    r = app.test_client().get("/oai?" + urlencode(params))
    assert r.status_code == 200 and r.mimetype == "text/xml"
    doc = etree.fromstring(r.data)
    schema.assertValid(doc)
    return doc


def error_code(doc):
    err = doc.find(f"{OAI}error")
    return err.get("code") if err is not None else None


def test_sickle_harvests_every_record_through_resumption_tokens(repo, schema):
    from sickle import Sickle

    rt, _app, url = repo
    sickle = Sickle(url, max_retries=0)
    records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
    live = [r for r in records if not r.header.deleted]
    deleted = [r for r in records if r.header.deleted]
    assert len(live) == rt.store.count_documents() == 185
    assert len(deleted) == 5
    assert len({r.header.identifier for r in records}) == 190  # no item twice
    sample = live[0].metadata
    assert sample["title"] and sample["publisher"] and "ko" in sample["language"]
    ids = list(sickle.ListIdentifiers(metadataPrefix="oai_dc", set="institute"))
    assert len(ids) >= 185
    identify = sickle.Identify()
    assert identify.deletedRecord == "persistent"
    assert identify.granularity == "YYYY-MM-DDThh:mm:ssZ"


def test_every_verb_validates_against_the_schemas(repo, schema):
    rt, app, _ = repo
    get(app, schema, verb="Identify")
    get(app, schema, verb="ListMetadataFormats")
    sets = get(app, schema, verb="ListSets")
    specs = {e.text for e in sets.iter(f"{OAI}setSpec")}
    assert {"institute", "region", "region:chungnam", "institute:cni"} <= specs
    page = get(app, schema, verb="ListRecords", metadataPrefix="oai_dc")
    token = page.find(f".//{OAI}resumptionToken")
    assert token is not None and token.text and token.get("completeListSize") == "190"
    page2 = get(app, schema, verb="ListRecords", resumptionToken=token.text)
    assert page2.find(f".//{OAI}resumptionToken").get("cursor") == str(PAGE)
    first = page.find(f".//{OAI}identifier").text
    rec = get(app, schema, verb="GetRecord", identifier=first, metadataPrefix="oai_dc")
    assert rec.find(f".//{OAI}metadata") is not None
    get(app, schema, verb="ListIdentifiers", metadataPrefix="oai_dc", set="region:chungnam")
    # POST works the same
    r = app.test_client().post("/oai", data={"verb": "Identify"})
    schema.assertValid(etree.fromstring(r.data))


@pytest.mark.parametrize(
    "params,code",
    [
        ({}, "badVerb"),
        ({"verb": "Explode"}, "badVerb"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "Identify", "extra": "1"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "from": "yesterday"}, "badArgument"),
        (
            {
                "verb": "ListRecords",
                "metadataPrefix": "oai_dc",
                "from": "2020-01-01",
                "until": "2020-01-01T00:00:00Z",
            },
            "badArgument",
        ),
        ({"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "nope"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "marc21"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "identifier": "oai:x:1", "metadataPrefix": "oai_dc"},
            "idDoesNotExist",
        ),
        ({"verb": "ListMetadataFormats", "identifier": "oai:policykb:zzz"}, "idDoesNotExist"),
        (
            {"verb": "ListRecords", "metadataPrefix": "oai_dc", "until": "1990-01-01"},
            "noRecordsMatch",
        ),
        ({"verb": "ListRecords", "resumptionToken": "not-a-token"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "x"}, "badResumptionToken"),
    ],
)
def test_error_codes(repo, schema, params, code):
    _rt, app, _ = repo
    doc = get(app, schema, **params)
    assert error_code(doc) == code
    if code in ("badVerb", "badArgument"):
        assert not doc.find(f"{OAI}request").attrib  # an illegal request is not echoed


def test_repeated_argument_is_bad(repo, schema):
    _rt, app, _ = repo
    r = app.test_client().get("/oai?verb=Identify&verb=Identify")
    assert error_code(etree.fromstring(r.data)) == "badVerb"
    r = app.test_client().get("/oai?verb=ListSets&resumptionToken=a&resumptionToken=b")
    assert error_code(etree.fromstring(r.data)) == "badArgument"


def test_resumption_token_survives_index_changes(repo, schema, tmp_path):
    """Records added and changed mid-harvest: nothing that existed at the start is lost."""
    rt, app, _ = repo
    page = get(app, schema, verb="ListIdentifiers", metadataPrefix="oai_dc")
    seen = [e.text for e in page.iter(f"{OAI}identifier")]
    before = set(seen)
    token = page.find(f".//{OAI}resumptionToken").text
    # Change the index between two requests: a new catalogue file, and the first item
    # of the first page rewritten.
    extra = tmp_path / "extra.jsonl"
    extra.write_text(
        json.dumps(
            {
                "id": "e1",
                "title": "수확 도중 추가된 보고서",
                "institute": "충남연구원",
                "year": 2024,
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    CatalogueImporter(rt.store, rt.backend, rt.analyzer).run([extra])
    while token:
        page = get(app, schema, verb="ListIdentifiers", resumptionToken=token)
        seen += [e.text for e in page.iter(f"{OAI}identifier")]
        el = page.find(f".//{OAI}resumptionToken")
        token = el.text if el is not None else None
    assert before <= set(seen)
    assert len(set(seen)) == 191  # and the new one too, at the end


def test_from_until(repo, schema):
    _rt, app, _ = repo
    everything = get(
        app, schema, verb="ListIdentifiers", metadataPrefix="oai_dc", **{"from": "2000-01-01"}
    )
    assert everything.find(f".//{OAI}header") is not None
    none = get(app, schema, verb="ListIdentifiers", metadataPrefix="oai_dc", until="2001-01-01")
    assert error_code(none) == "noRecordsMatch"
