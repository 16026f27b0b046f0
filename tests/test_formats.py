"""HWP 5 / HWPX / DOCX extraction (ingest.formats): real public-sector files from
../shared/data/public-docs (see its SOURCE.md) and synthetic files built in tmp_path."""

from __future__ import annotations

import csv
import random
import re
import struct
import zipfile
from pathlib import Path

import pytest

from ingest.extract import (
    Extracted,
    ExtractionError,
    extract,
    extract_docx,
    extract_hwp,
    extract_hwpx,
    sniff,
)
from ingest.formats import hwp5 as hwp
from ingest.normalize import normalize
from tests.conftest import shared_path

HANGUL = re.compile(r"[\uac00-\ud7a3]")
BY_SNIFF = {"ole2": extract_hwp, "hwpx": extract_hwpx, "docx": extract_docx}

# Agreement thresholds, measured over every HWP/HWPX⇄PDF pair in public-docs whose PDF has
# a usable (Hancom) text layer (20 pairs, 16 PDFs; the 415-page 교육부 PDF left out): the
# share of the PDF's Hangul 3-grams found in the HWP/HWPX text was 0.884-1.000, while the
# same ministry's press release of another quarter (same template, other document) reached
# 0.67-0.78. HWP vs HWPX of one document: Jaccard 0.996-1.0; other documents <= 0.61.
PDF_IN_SOURCE = 0.85
# Some PDFs lack text the source has (hwpx-02's PDF omits a whole box and all table
# numbers: 0.70); this only guards against Hangul-looking garbage in our output.
SOURCE_IN_PDF = 0.65
SAME_DOC_JACCARD = 0.95


# ------------------------------------------------------------------------------- helpers
def public(*parts: str) -> Path:
    return shared_path("data", "public-docs", *parts)


def by_content(path: Path) -> Extracted:
    """Dispatch the way extract.py will: by sniffed content, not by extension."""
    return BY_SNIFF[sniff(path)](path)


def text_of(result: Extracted) -> str:
    return normalize("\n\n".join(p.text for p in result.pages))


def trigrams(text: str) -> set[str]:
    hangul = "".join(HANGUL.findall(text))
    return {hangul[i : i + 3] for i in range(len(hangul) - 2)}


def containment(part: set[str], whole: set[str]) -> float:
    return len(part & whole) / len(part)


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b)


def write_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


# ----------------------------------------------------------------- real files: agreement
TRIPLES = [  # (HWP/HWPX sources of one document, its PDF)
    (["samples/table-vpos-01.hwp", "samples/table-vpos-01.hwpx"], "pdf/table-vpos-01-2022.pdf"),
    (["samples/hwpx/hwpx-02.hwpx"], "pdf/hwpx/hwpx-02-2022.pdf"),
    (
        [
            "samples/76076_regulatory_analysis.hwp",
            "samples/issue1891/76076_regulatory_analysis.hwpx",
        ],
        "samples/issue1891/76076_regulatory_analysis-2024.pdf",
    ),
    (["samples/2010-01-06.hwp"], "pdf/2010-01-06-2022.pdf"),
    (["samples/img-start-001.hwp"], "pdf/img-start-001-2022.pdf"),
    (["samples/table-in-tbox.hwp"], "pdf/table-in-tbox-2022.pdf"),
    (["samples/task2097/3080901_pii_ledger.hwp"], "pdf/task2097/3080901_pii_ledger-2022.pdf"),
    (
        ["samples/issue2020/passport_application_lawgo.hwp"],
        "pdf/issue2020/passport_application_lawgo-lawgo-2020.pdf",
    ),
]

SAME_EDIT = [  # HWP and HWPX saved from the same edit of a document: identical text
    ("samples/table-vpos-01.hwp", "samples/table-vpos-01.hwpx"),
    (
        "samples/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향.hwp",
        "samples/issue2020/(250813) (보도자료) 2025년 7월중 가계대출 동향.hwpx",
    ),
    ("samples/2026_oss_rst.hwp", "samples/hwpx/2026_oss_rst.hwpx"),
    ("samples/hwpx/hwpx-01.hwpx", "samples/hwpx/hwpx-h-01.hwpx"),  # the first is an HWP5
]


@pytest.mark.data
@pytest.mark.parametrize("sources,pdf", TRIPLES, ids=[t[1].split("/")[-1] for t in TRIPLES])
def test_hwp_hwpx_and_pdf_of_one_document_agree(sources, pdf):
    pdf_grams = trigrams(text_of(extract(public(pdf))))
    assert len(pdf_grams) > 200
    for source in sources:
        grams = trigrams(text_of(by_content(public(source))))
        assert containment(pdf_grams, grams) >= PDF_IN_SOURCE, source
        assert containment(grams, pdf_grams) >= SOURCE_IN_PDF, source


@pytest.mark.data
@pytest.mark.parametrize("hwp_path,hwpx_path", SAME_EDIT)
def test_hwp_and_hwpx_of_one_edit_give_identical_text(hwp_path, hwpx_path):
    first, second = by_content(public(hwp_path)), by_content(public(hwpx_path))
    assert (first.format, second.format) == ("hwp", "hwpx")
    assert text_of(first) == text_of(second)


@pytest.mark.data
def test_hwp_and_hwpx_revisions_agree_but_other_documents_do_not():
    def grams(rel: str) -> set[str]:
        return trigrams(text_of(by_content(public(rel))))

    old = grams("samples/80168_regulatory_analysis.hwp")
    new = grams("samples/issue1891/80168_regulatory_analysis.hwpx")  # a later revision
    assert jaccard(old, new) >= SAME_DOC_JACCARD
    # 기재부 해외직접투자: 3분기 (HWP) vs 1분기 (HWPX), same template, other figures
    q3, q1 = grams("samples/hwp-multi-001.hwp"), grams("samples/hwpx/hwpx-h-01.hwpx")
    assert jaccard(q3, q1) < 0.8
    assert containment(q1, q3) < PDF_IN_SOURCE


@pytest.mark.data
def test_table_cells_and_text_boxes_are_included():
    # what is where was read off the record levels / ctrl ids of these two files
    vpos = text_of(by_content(public("samples/table-vpos-01.hwp")))
    assert "보도시점\n\n(온라인) 2025. 12. 2.(화) 16:00" in vpos  # cells of a table
    assert "공공부문 인공지능 대전환" in vpos  # text in a drawing object
    tbox = text_of(by_content(public("samples/table-in-tbox.hwp")))
    assert "정수장명\n\n석성정수장" in tbox  # cells of a table inside a text box
    assert "염소소독" in tbox  # the text box's own paragraphs


# ------------------------------------------------------------ real files: edge cases
MISNAMED = [  # (path, what the bytes really are)
    ("samples/hwpx/hwpx-01.hwpx", "ole2"),
    ("samples/issue1891/76076_regulatory_analysis.hwpx", "ole2"),
    ("samples/task2322/19439117_gokseong_voucher_form.hwp", "hwpx"),
]


@pytest.mark.data
@pytest.mark.parametrize("rel,kind", MISNAMED)
def test_misnamed_files_are_read_by_content(rel, kind):
    path = public(rel)
    assert sniff(path) == kind
    result = by_content(path)
    assert result.format == {"ole2": "hwp", "hwpx": "hwpx"}[kind]
    assert len(HANGUL.findall(text_of(result))) > 100
    # the extractor the extension suggests hands the file over to the right one
    by_extension = extract_hwpx if path.suffix == ".hwpx" else extract_hwp
    assert text_of(by_extension(path)) == text_of(result)


@pytest.mark.data
@pytest.mark.parametrize("extractor", [extract_hwp, extract_hwpx])
def test_distribution_document_is_decrypted_and_matches_its_pdf(extractor):
    """배포용 HWP: ViewText decrypted per the HWP 5.0 spec; its text is the one its
    "Print To PDF" twin shows (and the plain BodyText stream carries nothing)."""
    path = public("samples/task1768/distribution_doc.hwpx")
    assert sniff(path) == "ole2"
    text = text_of(extractor(path))
    pdf = text_of(extract(public("pdf/distribution_doc-2024.pdf")))
    assert "2026년 의회운영업무추진비 집행계획" in text
    assert containment(trigrams(pdf), trigrams(text)) >= PDF_IN_SOURCE


@pytest.mark.data
def test_distribution_document_with_a_foreign_view_text_is_refused(tmp_path):
    """A ViewText stream that does not open with the spec's distribution record (some
    other protection) is refused with the reason, never read as garbage."""
    data = bytearray(public("samples/task1768/distribution_doc.hwpx").read_bytes())
    olefile = pytest.importorskip("olefile")
    with olefile.OleFileIO(bytes(data)) as ole:
        entry = ole.direntries[ole._find("ViewText/Section0")]
        assert entry.size >= ole.minisectorcutoff  # in regular sectors
        at = (entry.isectStart + 1) * ole.sectorsize
    data[at : at + 4] = (0x10 | (256 << 20)).to_bytes(4, "little")  # another tag id
    path = tmp_path / "protected.hwp"
    path.write_bytes(bytes(data))
    with pytest.raises(ExtractionError) as exc:
        extract_hwp(path)
    assert exc.value.reason == "encrypted" and "배포용" in exc.value.message


@pytest.mark.data
def test_every_public_hwp_and_hwpx_yields_hangul_or_a_reason():
    base = public()
    with (base / "INDEX.tsv").open(encoding="utf-8") as fh:
        reference = {
            r["path"]: int(r["hangul_chars"] or 0) for r in csv.DictReader(fh, delimiter="\t")
        }
    failures: dict[str, str] = {}
    files = sorted(p for p in base.rglob("*") if p.suffix in (".hwp", ".hwpx"))
    assert len(files) >= 70
    for path in files:
        rel = path.relative_to(base).as_posix()
        try:
            text = text_of(by_content(path))
        except ExtractionError as exc:
            failures[rel] = exc.reason
            continue
        hangul = len(HANGUL.findall(text))
        assert hangul > 0, rel
        # never fewer Hangul than the crude throwaway readers that built INDEX.tsv
        assert hangul >= reference.get(rel, 0), rel
    assert failures == {}


@pytest.mark.data
def test_output_has_no_control_character_garbage():
    edu = "samples/task2287/1342000_edu_curriculum_map.hwp"  # 1.3 MB, 34 sections
    garbage = re.compile(r"[\x00-\x08\x0b-\x1f\ufffd\ufffc]")  # controls but \t \n
    texts = {
        rel: by_content(public(rel)).pages[0].text
        for rel in (edu, "samples/k-water-rfp.hwp", "samples/hwpx/hwpx-h-02.hwpx")
    }
    for rel, raw in texts.items():
        assert not garbage.search(raw), rel
    assert len(HANGUL.findall(texts[edu])) >= 279_400


# ------------------------------------------------------------- real files: corrupt/flags
@pytest.fixture()
def small_hwp(tmp_path) -> bytes:
    return public("samples/table-vpos-01.hwp").read_bytes()


@pytest.mark.data
@pytest.mark.parametrize("size", [2048, 0.33, 0.5, -1000])
def test_truncated_hwp_is_corrupt(tmp_path, small_hwp, size):
    cut = size if isinstance(size, int) else int(len(small_hwp) * size)
    path = tmp_path / "cut.hwp"
    path.write_bytes(small_hwp[:cut])
    with pytest.raises(ExtractionError) as exc:
        extract_hwp(path)
    assert exc.value.reason == "corrupt"


@pytest.mark.data
@pytest.mark.parametrize(
    "flag,words",
    [(hwp.PASSWORD, "암호"), (hwp.DISTRIBUTION, "배포용"), (hwp.DRM, "DRM")],
)
def test_protection_flags_in_file_header_are_refused(tmp_path, small_hwp, flag, words):
    data = bytearray(small_hwp)
    at = data.find(hwp.SIGNATURE) + 36  # FileHeader: signature[32], version, flags
    flags = int.from_bytes(data[at : at + 4], "little")
    data[at : at + 4] = (flags | flag).to_bytes(4, "little")
    path = tmp_path / "protected.hwp"
    path.write_bytes(bytes(data))
    with pytest.raises(ExtractionError) as exc:
        extract_hwp(path)
    assert exc.value.reason == "encrypted" and words in exc.value.message


def rename_ole_entry(data: bytes, old: str, new: str) -> bytes:
    """Rename a directory entry of a compound file (name[64] UTF-16LE, then its length)."""
    out = bytearray(data)
    at = out.find(old.encode("utf-16le") + b"\0\0")
    assert at > 0 and (at - 512) % 128 == 0
    out[at : at + 64] = (new.encode("utf-16le") + b"\0\0").ljust(64, b"\0")
    out[at + 64 : at + 66] = struct.pack("<H", 2 * len(new) + 2)
    return bytes(out)


@pytest.mark.data
def test_other_ole2_files_are_unsupported(tmp_path, small_hwp):
    path = tmp_path / "old.doc"
    path.write_bytes(rename_ole_entry(small_hwp, "FileHeader", "WordDocument"))
    assert sniff(path) == "ole2"
    with pytest.raises(ExtractionError) as exc:
        extract_hwp(path)
    assert exc.value.reason == "unsupported" and ".doc" in exc.value.message


@pytest.mark.data
def test_damaged_files_only_ever_raise_extraction_error(tmp_path):
    rng = random.Random(20240611)
    outcomes: set[str] = set()
    for rel, extractor in [
        ("samples/task2097/3080901_pii_ledger.hwp", extract_hwp),
        ("samples/task2097/3023771_wichokjang.hwpx", extract_hwpx),
    ]:
        original = public(rel).read_bytes()
        for i in range(60):
            data = bytearray(original)
            for _ in range(rng.choice([1, 8, 64])):
                data[rng.randrange(len(data))] = rng.randrange(256)
            path = tmp_path / f"damaged{i}{Path(rel).suffix}"
            path.write_bytes(bytes(data))
            try:
                extractor(path)
                outcomes.add("ok")
            except ExtractionError as exc:
                outcomes.add(exc.reason)
    assert "corrupt" in outcomes


def test_non_hwp_bytes_are_unsupported(tmp_path):
    hwp3 = tmp_path / "old.hwp"
    hwp3.write_bytes(b"HWP Document File V3.00 \x1a\x01\x02\x03\x04\x05" + bytes(200))
    junk = tmp_path / "junk.hwpx"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    for path, extractor in [(hwp3, extract_hwp), (junk, extract_hwpx), (junk, extract_docx)]:
        with pytest.raises(ExtractionError) as exc:
            extractor(path)
        assert exc.value.reason == "unsupported"
    with pytest.raises(ExtractionError, match="HWP 3"):
        extract_hwp(hwp3)


# ------------------------------------------------------ HWP 5 records (synthetic streams)
def record(tag: int, level: int, payload: bytes) -> bytes:
    size = len(payload)
    if size >= 0xFFF:
        return struct.pack("<II", tag | level << 10 | 0xFFF << 20, size) + payload
    return struct.pack("<I", tag | level << 10 | size << 20) + payload


def control(code: int, ctrl_id: bytes = b"    ") -> bytes:
    """An inline/extended control: 8 WCHARs = code, ctrl id (stored reversed), 8 bytes, code."""
    return (
        struct.pack("<H", code)
        + ctrl_id[::-1]
        + b"\x0d\x00A\x00B\x00\x09\x00"
        + struct.pack("<H", code)
    )


def wchars(text: str) -> bytes:
    return text.encode("utf-16le")


def char(code: int) -> bytes:
    return struct.pack("<H", code)


def paragraph(level: int, text: bytes) -> bytes:
    return record(hwp.PARA_HEADER, level, bytes(22)) + record(hwp.PARA_TEXT, level + 1, text)


def test_para_text_controls_tables_dutmal_and_long_records():
    first = (
        wchars("가")
        + control(9)  # tab: inline control, 8 WCHARs
        + wchars("나")
        + control(11, b"tbl ")  # table anchor: extended control, payload skipped
        + wchars("다")
        + char(10)  # line break: 1 WCHAR
        + wchars("라")
        + char(30)  # 묶음 빈칸
        + wchars("마")
        + control(3, b"%clk")  # field start ... field end
        + wchars("필드")
        + control(4, b"%clk")
        + char(13)
    )
    cell = record(hwp.CTRL_HEADER, 1, b" lbt" + bytes(40)) + record(72, 2, bytes(8))
    cell += paragraph(2, wchars("칸") + char(13))
    dutmal = paragraph(0, wchars("앞") + control(23, b"tdut") + wchars("뒤") + char(13))
    dutmal += record(
        hwp.CTRL_HEADER,
        1,
        b"tudt" + struct.pack("<H", 2) + wchars("본말") + struct.pack("<H", 2) + wchars("덧말"),
    )
    long = paragraph(0, wchars("긴") * 5000 + char(13))  # size >= 0xFFF: 32-bit size follows
    stream = paragraph(0, first) + cell + dutmal + long + paragraph(0, char(13))
    assert hwp._section_paragraphs(stream) == [
        "가\t나다\n라 마필드",
        "칸",
        "앞본말(덧말)뒤",
        "긴" * 5000,
    ]


def test_truncated_record_is_corrupt():
    stream = paragraph(0, wchars("가나다") + char(13))
    for cut in (len(stream) - 1, 2, len(stream) - 7):
        with pytest.raises(ExtractionError) as exc:
            hwp._section_paragraphs(stream[:cut])
        assert exc.value.reason == "corrupt"


# ------------------------------------------------------------------- HWPX (synthetic zips)
HP = 'xmlns:hs="http://www.hancom.co.kr/hwpml/2011/section" ' + (
    'xmlns:hp="http://www.hancom.co.kr/hwpml/2011/paragraph"'
)


def section(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><hs:sec {HP}>{body}</hs:sec>'


def hp(*runs: str) -> str:
    return "<hp:p>" + "".join(f"<hp:run>{r}</hp:run>" for r in runs) + "</hp:p>"


def cell(text: str) -> str:
    return f"<hp:tc><hp:subList>{hp(f'<hp:t>{text}</hp:t>')}</hp:subList></hp:tc>"


def manifest(*sections: str) -> str:
    items = "".join(f'<opf:item id="{s}" href="Contents/{s}.xml"/>' for s in sections)
    spine = "".join(f'<opf:itemref idref="{s}"/>' for s in sections)
    return (
        '<opf:package xmlns:opf="http://www.idpf.org/2007/opf/">'
        f"<opf:manifest>{items}</opf:manifest><opf:spine>{spine}</opf:spine></opf:package>"
    )


def test_hwpx_text_tabs_tables_dutmal_and_spine_order(tmp_path):
    body = (
        hp('<hp:t>첫째<hp:tab width="400"/>탭<hp:lineBreak/>줄</hp:t>')
        + hp(
            "<hp:t>표 앞</hp:t>"
            f"<hp:tbl><hp:tr>{cell('칸1')}{cell('칸2')}</hp:tr></hp:tbl>"
            "<hp:t>표 뒤</hp:t>"
        )
        + hp(
            "<hp:dutmal><hp:mainText>본말</hp:mainText><hp:subText>덧말</hp:subText></hp:dutmal>",
            "<hp:t> 끝</hp:t>",
        )
        + hp(
            '<hp:ctrl><hp:fieldBegin><hp:parameters><hp:stringParam name="Command">'
            "Clickhere:안내문</hp:stringParam></hp:parameters></hp:fieldBegin></hp:ctrl>"
            "<hp:t>누름틀</hp:t>"
        )
    )
    path = write_zip(
        tmp_path / "doc.hwpx",
        {
            "mimetype": "application/hwp+zip",
            "Contents/content.hpf": manifest("section1", "section0"),
            "Contents/section0.xml": section(body),
            "Contents/section1.xml": section(hp("<hp:t>머리 구역</hp:t>")),
        },
    )
    assert sniff(path) == "hwpx"
    result = extract_hwpx(path)
    assert result.format == "hwpx" and result.pages[0].number is None
    assert result.pages[0].text.split("\n\n") == [
        "머리 구역",
        "첫째\t탭\n줄",
        "표 앞표 뒤",
        "칸1",
        "칸2",
        "본말(덧말) 끝",
        "누름틀",
    ]


def test_hwpx_sections_in_numeric_order_without_manifest(tmp_path):
    members = {f"Contents/section{i}.xml": section(hp(f"<hp:t>구역{i}</hp:t>")) for i in (10, 2)}
    text = extract_hwpx(write_zip(tmp_path / "doc.hwpx", members)).pages[0].text
    assert text == "구역2\n\n구역10"


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE sec [<!ENTITY a "가가가가가가가가"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE sec [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    ],
)
def test_xml_entity_declarations_are_refused(tmp_path, doctype):
    xml = section(hp("<hp:t>&b;</hp:t>")).replace("?>", "?>" + doctype, 1)
    path = write_zip(tmp_path / "evil.hwpx", {"Contents/section0.xml": xml})
    with pytest.raises(ExtractionError) as exc:
        extract_hwpx(path)
    assert exc.value.reason == "unsafe_xml"


def test_broken_xml_and_broken_zip_are_corrupt(tmp_path):
    broken_xml = write_zip(tmp_path / "a.hwpx", {"Contents/section0.xml": "<hs:sec><hp:p>"})
    broken_zip = tmp_path / "b.hwpx"
    broken_zip.write_bytes(b"PK\x03\x04" + bytes(300))
    for path in (broken_xml, broken_zip):
        with pytest.raises(ExtractionError) as exc:
            extract_hwpx(path)
        assert exc.value.reason == "corrupt"


def test_encrypted_hwpx_is_refused(tmp_path):
    odf = "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
    entry = '<odf:file-entry odf:full-path="Contents/section0.xml"><odf:encryption-data/>'
    members = {
        "META-INF/manifest.xml": f'<odf:manifest xmlns:odf="{odf}">{entry}</odf:file-entry>'
        "</odf:manifest>",
        "Contents/section0.xml": b"\x8f\x01 not xml",
    }
    with pytest.raises(ExtractionError) as exc:
        extract_hwpx(write_zip(tmp_path / "locked.hwpx", members))
    assert exc.value.reason == "encrypted"


# --------------------------------------------------------------------------- zip bombs
def write_zeros(path: Path, name: str, megabytes: int) -> Path:
    """A zip whose member ``name`` is ``megabytes`` MiB of zeros (deflated ~230:1)."""
    zeros = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open(name, "w", force_zip64=True) as fh:
            for _ in range(megabytes):
                fh.write(zeros)
    return path


@pytest.fixture()
def opened_members(monkeypatch) -> list[str]:
    """Names of the zip members the code under test opens for reading."""
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, mode="r", *args, **kwargs):
        if mode == "r":
            opened.append(getattr(name, "filename", name))
        return real_open(self, name, mode, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


@pytest.mark.parametrize(
    "extractor,member",
    [(extract_hwpx, "Contents/section0.xml"), (extract_docx, "word/document.xml")],
)
def test_zip_bomb_is_refused_without_inflating(tmp_path, opened_members, extractor, member):
    bomb = write_zeros(tmp_path / "bomb.zip", member, 300)
    opened_members.clear()
    with pytest.raises(ExtractionError) as exc:
        extractor(bomb)
    assert exc.value.reason in ("too_large", "zip_bomb")
    assert member not in opened_members


def test_highly_compressed_member_is_refused_as_zip_bomb(tmp_path, opened_members):
    bomb = write_zeros(tmp_path / "bomb.hwpx", "Contents/section0.xml", 20)  # 20 MiB, >100:1
    opened_members.clear()
    with pytest.raises(ExtractionError) as exc:
        extract_hwpx(bomb)
    assert exc.value.reason == "zip_bomb"
    assert opened_members == []


# ---------------------------------------------------------------------------------- DOCX
W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
MC = 'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"'


def w_p(*runs: str, ppr: str = "") -> str:
    return f"<w:p>{ppr}" + "".join(f"<w:r>{r}</w:r>" for r in runs) + "</w:p>"


def w_table(*rows: list[str]) -> str:
    cells = ("".join(f"<w:tc>{w_p(f'<w:t>{c}</w:t>')}</w:tc>" for c in row) for row in rows)
    return "<w:tbl>" + "".join(f"<w:tr>{r}</w:tr>" for r in cells) + "</w:tbl>"


def docx(path: Path, body: str, footnotes: str | None = None) -> Path:
    members: dict[str, str] = {
        "[Content_Types].xml": (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
            '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<w:document {W} {MC}><w:body>{body}<w:sectPr/></w:body></w:document>",
    }
    if footnotes is not None:
        members["word/footnotes.xml"] = f"<w:footnotes {W}>{footnotes}</w:footnotes>"
    return write_zip(path, members)


def test_docx_paragraphs_tabs_breaks_tables_and_notes(tmp_path):
    tab_stops = '<w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>'
    textbox = w_p(
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>'
        + w_p("<w:t>글상자</w:t>")
        + "</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>"
        + w_p("<w:t>글상자</w:t>")
        + "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent>"
    )
    body = (
        w_p("<w:t>첫 문단</w:t>", '<w:tab/><w:t xml:space="preserve">탭 뒤 </w:t>', ppr=tab_stops)
        + w_p("<w:t>줄</w:t><w:br/><w:t>바꿈</w:t>")
        + w_table(["가", "나"], ["다", "라"])
        + w_p(
            '<w:instrText xml:space="preserve"> HYPERLINK "http://x" </w:instrText>',
            "<w:t>링크</w:t>",
            "<w:delText>지운 글</w:delText>",
        )
        + textbox
    )
    notes = (
        '<w:footnote w:type="separator" w:id="-1">' + w_p("<w:separator/>") + "</w:footnote>"
        '<w:footnote w:id="1">' + w_p("<w:t>각주 내용</w:t>") + "</w:footnote>"
    )
    path = docx(tmp_path / "보고서.docx", body, notes)
    assert sniff(path) == "docx"
    result = extract_docx(path)
    assert result.format == "docx" and len(result.pages) == 1
    assert result.pages[0].text.split("\n\n") == [
        "첫 문단\t탭 뒤 ",
        "줄\n바꿈",
        "가",
        "나",
        "다",
        "라",
        "링크",
        "글상자",
        "각주 내용",
    ]


def test_empty_docx_has_no_text(tmp_path):
    with pytest.raises(ExtractionError) as exc:
        extract_docx(docx(tmp_path / "empty.docx", w_p("<w:t>  </w:t>")))
    assert exc.value.reason == "no_text"
