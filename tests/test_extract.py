"""Extraction and normalization, including real public-sector PDFs from ../shared/data."""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import pytest

from ingest.extract import ExtractionError, extract, sniff
from ingest.metadata import build_metadata, guess_doc_type, parse_date
from ingest.normalize import normalize
from ingest.passages import split_passages
from tests.conftest import shared_path

HANGUL = re.compile(r"[\uac00-\ud7a3]")


def public_docs_rows() -> list[dict]:
    index = shared_path("data", "public-docs", "INDEX.tsv")
    with index.open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def test_normalize_nfc_whitespace_and_hyphenation():
    nfd = unicodedata.normalize("NFD", "협의체를  발족\t했다")
    assert normalize(nfd) == "협의체를 발족 했다"
    assert normalize("inter-\nnational cooperation") == "international cooperation"
    assert normalize("한국-\n미국") == "한국-\n미국"  # only Latin word breaks are joined
    assert normalize("a\n\n\n\nb") == "a\n\nb"
    assert (
        normalize("\ufffd가계부채 점검회의\ufffd 개최\n\ufffd 은행권")
        == "가계부채 점검회의 개최\n은행권"
    )
    assert normalize("주거\ufffd교통 및 \ufffd\ufffd복지") == "주거 교통 및 복지"


def test_passages_keep_pages_and_size():
    pages = [(1, "첫 문단입니다.\n\n" + "가나다라마바사. " * 200), (2, "둘째 쪽 문단.")]
    passages = split_passages(pages)
    assert passages[-1].page == 2
    assert all(len(p.text) <= 1300 for p in passages)
    assert {p.page for p in passages} == {1, 2}


@pytest.mark.parametrize(
    "text,iso",
    [
        ("보도일시: 2018. 9. 19.(수) 14:00", "2018-09-19"),
        ("2018년 9월 19일 배포", "2018-09-19"),
        ("'18.9.19 보도", "2018-09-19"),
        ("2021-03-15_충남연구원", "2021-03-15"),
        ("날짜 없음", None),
    ],
)
def test_korean_dates(text, iso):
    assert parse_date(text) == iso


def test_metadata_from_text_when_no_manifest(tmp_path):
    path = tmp_path / "2021-03-15_충남연구원_보도자료_탄소중립.txt"
    text = (
        "보도자료\n보도일시: 2021. 3. 15.(월)\n담당부서: 기후환경연구실\n\n"
        "충남 탄소중립 이행 전략 발표\n- 석탄화력 전환 지역 지원 -\n본문입니다."
    )
    meta = build_metadata(text, path, None)
    assert meta.title == "충남 탄소중립 이행 전략 발표"
    assert meta.institute == "충남연구원" and meta.regions == ["충남"]
    assert meta.doc_type == "보도자료" and meta.date == "2021-03-15"


def test_doc_type_guesses():
    assert guess_doc_type("정책브리프 제12호", "x.txt") == "정책브리프"
    assert guess_doc_type("연구책임자 홍길동", "x.txt") == "연구보고서"
    assert guess_doc_type("정책 토론회 자료집", "x.txt") == "세미나자료"


def test_sniff_ignores_extension(tmp_path):
    fake = tmp_path / "report.pdf"
    fake.write_text("사실은 텍스트 파일", encoding="utf-8")
    assert sniff(fake) == "text"
    ole = tmp_path / "doc.hwpx"
    ole.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600)
    assert sniff(ole) == "ole2"
    with pytest.raises(ExtractionError) as exc:
        extract(ole)
    assert exc.value.reason in ("corrupt", "unsupported")


def test_empty_and_too_large(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ExtractionError):
        extract(empty)
    big = tmp_path / "big.txt"
    big.write_text("가" * 2000, encoding="utf-8")
    with pytest.raises(ExtractionError) as exc:
        extract(big, max_bytes=1000)
    assert exc.value.reason == "too_large"


def test_cp949_text_is_decoded(tmp_path):
    path = tmp_path / "old.txt"
    path.write_bytes("국토연구원 보도자료".encode("cp949"))
    assert extract(path).pages[0].text == "국토연구원 보도자료"


@pytest.mark.data
def test_real_pdfs_with_text_layer_yield_hangul_with_pages():
    rows = [
        r
        for r in public_docs_rows()
        if r["format"] == "pdf" and int(r["hangul_chars"] or 0) > 200 and int(r["pages"] or 0) <= 8
    ]
    assert len(rows) >= 5
    base = shared_path("data", "public-docs")
    for row in rows[:5]:
        result = extract(base / row["path"])
        assert len(result.pages) == int(row["pages"])
        assert [p.number for p in result.pages] == list(range(1, len(result.pages) + 1))
        text = normalize("\n".join(p.text for p in result.pages))
        assert len(HANGUL.findall(text)) > 200, row["path"]


@pytest.mark.data
def test_real_pdfs_without_hangul_are_refused_with_reason():
    rows = [
        r
        for r in public_docs_rows()
        if r["format"] == "pdf" and int(r["hangul_chars"] or 0) == 0 and int(r["pages"] or 0) <= 6
    ]
    assert rows
    base = shared_path("data", "public-docs")
    for row in rows[:3]:
        with pytest.raises(ExtractionError) as exc:
            extract(base / row["path"])
        assert exc.value.reason in ("no_hangul", "no_text_layer")


@pytest.mark.data
def test_ingesting_real_files_records_every_outcome(fresh_runtime):
    base = shared_path("data", "public-docs")
    files = sorted(p for p in Path(base, "samples").rglob("*") if p.is_file())[:6]
    files += [base / "pdf" / "2010-01-06-2022.pdf"]
    report = fresh_runtime.ingester().run(files)
    assert report.seen == len(files)
    assert report.added + report.failed == len(files)
    for rec in fresh_runtime.store.list_files():
        assert rec.status in ("indexed", "failed")
        if rec.status == "failed":
            assert rec.error and re.search("[\uac00-\ud7a3]", rec.error)
        else:
            doc = fresh_runtime.store.get_document(rec.doc_id)
            assert HANGUL.search(doc.text)
