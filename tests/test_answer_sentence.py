"""Answer-sentence evidence for questions (policykb.answer_sentence): which queries are
questions, the wording compared, and the share one sentence holds."""

from __future__ import annotations

import pytest

from policykb.answer_sentence import asks, question_bigrams, sentence_coverage, sentences


@pytest.mark.parametrize(
    "text",
    ["김이수가 졸업한 학교 이름은?", "피흐리스트를 쓴 저자는 누구인가?", "언제 졸업했나요"],
)
def test_questions_are_asked(text):
    assert asks(text)


@pytest.mark.parametrize(
    "text",
    [
        "여신전문금융회사가 지급보증의 방식으로 영위할 수 있는 업무에 해당하는지",
        "주권기초 장내파생상품의 중개거래가 가능한지?",
        "스마트시티 교통",
        "2023년 8월 기업경기실사지수",
    ],
)
def test_titles_and_keywords_are_not_questions_asked(text):
    assert not asks(text)


def test_the_wording_compared_leaves_out_the_asking_words():
    grams = question_bigrams("김민준은 언제 법학과를 졸업했나?")
    assert grams == ["김민", "민준", "준은", "법학", "학과", "과를", "졸업", "업했", "했나"]
    assert question_bigrams("무엇인가?") == []


def test_one_sentence_must_hold_the_wording():
    grams = question_bigrams("김민준은 언제 법학과를 졸업했나?")
    together = "김민준은 1970년 태어났다. 김민준은 1995년 법학과를 졸업했다."
    scattered = "김민준은 태어났다. 그는 법학과에 들어갔다.졸업은 늦었다."
    assert sentence_coverage(grams, together) == pytest.approx(8 / 9)
    assert sentence_coverage(grams, scattered) < 0.5
    assert sentences(scattered) == [
        "김민준은 태어났다.",
        "그는 법학과에 들어갔다.",
        "졸업은 늦었다.",
    ]
    assert sentence_coverage(grams, "") == 0.0
