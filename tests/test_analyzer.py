"""Golden tests of the Kiwi analyzer on Korean sentences."""

from __future__ import annotations

import pytest

from analyzers import get_analyzer


@pytest.fixture(scope="module")
def analyze():
    a = get_analyzer()
    return a.analyze


def terms(tokens, joined=None):
    return [t.term for t in tokens if joined is None or t.joined == joined]


def test_particles_and_endings_are_dropped(analyze):
    toks = analyze("스마트시티 연구기관 협력 협의체를 발족하였다")
    parts = terms(toks, joined=False)
    assert "협의체" in parts
    assert "발족" in parts
    assert not any(t in parts for t in ("를", "하", "었", "다"))


def test_offsets_point_at_original_words(analyze):
    text = "지역 연구원들이 협의체를 구성하였다."
    for t in analyze(text):
        if not t.joined and t.term == "협의체":
            assert text[t.start : t.end] == "협의체"
            break
    else:
        pytest.fail("협의체 not found")


def test_same_analysis_for_particle_variants(analyze):
    assert terms(analyze("협의체가"), False) == terms(analyze("협의체를"), False) == ["협의체"]


def test_compound_spacing_variants_share_terms(analyze):
    spaced = analyze("스마트 시티 정책")
    solid = analyze("스마트시티 정책")
    assert "스마트시티" in terms(spaced)  # joined form of 스마트 + 시티
    assert "스마트시티" in terms(solid)
    assert terms(spaced, False)[:2] == ["스마트", "시티"]


def test_joined_token_spans_both_parts(analyze):
    text = "스마트 시티"
    joined = [t for t in analyze(text) if t.joined]
    assert [(t.term, text[t.start : t.end]) for t in joined] == [("스마트시티", "스마트 시티")]


def test_prefix_kept_so_bisudogwon_is_not_sudogwon(analyze):
    assert terms(analyze("비수도권"), False) == ["비수도권"]
    assert terms(analyze("수도권"), False) == ["수도권"]


def test_numbers_foreign_words_and_hanja(analyze):
    toks = terms(analyze("2023년 예산 3.2조원, 1,234명 AI·IoT 韓國"), False)
    assert "2023" in toks and "3.2" in toks and "1234" in toks
    assert "ai" in toks and "iot" in toks  # foreign words lower-cased
    assert "韓國" in toks
    assert "년" not in toks and "명" not in toks


def test_verbs_indexed_as_dictionary_forms_light_verbs_dropped(analyze):
    toks = terms(analyze("주거비 부담이 높아졌다. 조사를 했다."), False)
    assert any(t.startswith("높") and t.endswith("다") for t in toks)
    assert "하다" not in toks


def test_positions_increase_and_joined_share_first_position(analyze):
    toks = analyze("도시 재생 사업")
    parts = [t for t in toks if not t.joined]
    assert [t.position for t in parts] == list(range(len(parts)))
    for j in (t for t in toks if t.joined):
        assert any(p.position == j.position and j.term.startswith(p.term) for p in parts)


def test_empty_and_punctuation_only(analyze):
    assert analyze("") == []
    assert analyze("  ...!!  ") == []


def test_long_noun_kiwi_keeps_whole_meets_its_spaced_spelling(analyze):
    # Kiwi returns 공해방지법 (alone, as a title is typed) as one dictionary noun and
    # 규제샌드박스 as one unknown noun; both are indexed as their parts plus the whole, so
    # the spaced spelling and a part find them, and the whole word still matches itself.
    solid, spaced = analyze("공해방지법"), analyze("공해 방지법을 개정")
    assert terms(solid, False) == terms(spaced, False)[:3] == ["공해", "방지", "법"]
    whole = [t for t in solid if t.term == "공해방지법"]
    assert whole and whole[0].joined and (whole[0].start, whole[0].end) == (0, 5)
    assert "샌드박스" in terms(analyze("규제샌드박스 승인"))


def test_loanwords_stay_whole(analyze):
    for word in ("이모티콘", "인센티브", "내비게이션"):
        assert terms(analyze(word), False) == [word]


def test_full_width_ascii_reads_as_ascii(analyze):
    # HWP files and pasted text carry full-width digits, Latin letters and brackets.
    text = "２０２３년 ＡＩ　정책（안）"
    assert terms(analyze(text)) == terms(analyze("2023년 AI 정책(안)"))
    toks = analyze(text)
    year = next(t for t in toks if t.term == "2023")
    assert text[year.start : year.end] == "２０２３"  # offsets still point at what was written


def test_letter_spaced_words_are_read_closed_up_too(analyze):
    """Headings, tables and title pages space a word's letters ("위 촉 장", "아 프 리 카",
    an author "차 우 규"): the closed-up word is a term over those letters, beside the
    letters' own terms, and ordinary one-syllable words keep their usual terms."""
    text = "위 촉 장 수여식에서 아 프 리 카 대사와 연구책임자 차 우 규"
    tokens = analyze(text)
    spans = {t.term: text[t.start : t.end] for t in tokens}
    assert spans["위촉장"] == "위 촉 장"
    assert spans["아프리카"] == "아 프 리 카"
    assert spans["차우규"] == "차 우 규"
    assert "수여식" in spans and "대사" in spans
    positions = [t.position for t in tokens]
    assert positions == sorted(positions)
    # words of one syllable each, not a spaced word: nothing but their usual terms
    plain = "그 후 더 큰 일이"
    assert [t.term for t in analyze(plain)] == ["후", "크다", "일"]
