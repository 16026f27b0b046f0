"""The query language: parsing and analysis without any engine."""

from __future__ import annotations

import math

import pytest

from analyzers import get_analyzer
from policykb.query import (
    AllOf,
    AnyOf,
    Bool,
    DateRef,
    Phrase,
    QuerySyntaxError,
    analyze_query,
    parse,
    parse_lenient,
    query_dates,
)


@pytest.fixture(scope="module")
def aq():
    a = get_analyzer()
    return lambda q: analyze_query(parse(q), a)


def test_words_are_all_required(aq):
    q = aq("도시재생 주거")
    assert isinstance(q.root, Bool) and len(q.root.must) == 1
    clause = q.root.must[0]
    assert isinstance(clause, AllOf)
    assert {t for alt in clause.alts for t in alt.terms} >= {"도시재생", "주거"}


def test_spaced_compound_accepts_joined_form(aq):
    clause = aq("스마트 시티").root.must[0]
    assert [set(a.terms) for a in clause.alts] == [{"스마트", "스마트시티"}, {"시티", "스마트시티"}]


def test_phrase_and_exclusion(aq):
    q = aq('"도시 재생" -수도권')
    assert isinstance(q.root.must[0], Phrase) and q.root.must[0].parts == ("도시", "재생")
    assert len(q.root.must_not) == 1
    assert "수도권" not in q.highlight_terms


def test_or_and_parentheses(aq):
    q = aq("(교통 OR 주거) 청년")
    assert isinstance(q.root.must[0], AnyOf)
    assert isinstance(q.root.must[1], AllOf)


def test_field_filters_korean_and_english(aq):
    q = aq("기관:경남발전연구원 지역:경기도 유형:보도자료 연도:2018..2020 year:2019")
    assert q.filters.institutes == ["경남연구원"]
    assert q.filters.regions == ["경기"]
    assert q.filters.doc_types == ["보도자료"]
    assert (q.filters.year_from, q.filters.year_to) == (2019, 2019)
    assert q.empty


def test_lineage_expands_predecessor(aq):
    q = aq("기관:광주전남연구원")
    assert set(q.filters.institutes) == {"광주전남연구원", "광주연구원", "전남연구원"}


@pytest.mark.parametrize("text", ['"도시 재생', "(교통 주거"])
def test_malformed_raises_with_korean_message(text):
    with pytest.raises(QuerySyntaxError) as exc:
        parse(text)
    assert any("\uac00" <= ch <= "\ud7a3" for ch in exc.value.message)


def test_lenient_degrades_with_notice():
    tree, notices = parse_lenient('"도시 재생')
    assert notices
    assert tree.children  # still searches the words


@pytest.mark.parametrize("value", ["지역:화성", "유형:소설", "연도:abc", "기관:없는연구원"])
def test_unknown_filter_values_are_errors(aq, value):
    with pytest.raises(QuerySyntaxError):
        aq(value)


def test_syntax_characters_are_never_passed_through(aq):
    # Engine syntax in user text is just text: no clause carries it.
    q = aq('title:* AND body:/re.*/ {"query": 1}')
    for clause in q.root.must:
        for alt in getattr(clause, "alts", ()):
            for term in alt.terms:
                assert not set(term) & set('*/{}":')


def test_short_queries_need_every_word_long_ones_most(aq):
    assert aq("도시재생 주거 청년").root.must[0].min_match is None
    long = aq("청년 주거 지원 확대 방안 발표 국토교통부").root.must[0]
    assert long.min_match is not None
    assert len(long.alts) > long.min_match >= 0.75 * len(long.alts)


@pytest.mark.parametrize(
    "title",
    [
        "[보도자료] 「도시재생 뉴딜」 사업 ‘본격’ 추진 - 국토부, 2024년 계획 발표 -",
        "『스마트시티』 “시민 참여” 확대·지원 -국토교통부-",
        "주택 공급 -2.5% 감소",
    ],
)
def test_korean_typography_is_plain_text(aq, title):
    q = aq(title)
    assert not q.root.must_not
    assert not any(isinstance(c, Phrase) for c in q.root.must)


def test_long_query_keeps_most_informative_terms():
    from policykb.query import limit_terms

    a = get_analyzer()
    words = " ".join(f"낱말{i}" for i in range(40)) + " 도시 재생"
    q = analyze_query(parse(words), a)
    df = {t: 1000 for alt in q.root.must[0].alts for t in alt.terms}
    df["재생"] = 1
    pruned, changed = limit_terms(q, lambda terms: {t: df.get(t, 0) for t in terms}, limit=8)
    assert changed
    kept = [alt.terms[0] for alt in pruned.root.must[0].alts]
    assert len(kept) == 8 and "재생" in kept
    assert pruned.highlight_terms == q.highlight_terms


@pytest.mark.parametrize(
    "title",
    [
        "국제자금세탁방지기구(FATF) 총회 참석 결과",
        "국무회의 의결(1.25)",
        "1) 목표 설정",
        "교통)",
        "제56호 에이(A)-벤처스로 도시곳간 선정",
    ],
)
def test_attached_or_stray_parentheses_are_text(title):
    tree = parse(title)
    assert all(type(c).__name__ == "Word" for c in tree.children)


def test_a_group_of_plain_words_is_part_of_the_run(aq):
    # A pasted title's aside "(6.25~27)" used to be a separately required group, so a
    # target without those words was excluded however well the rest matched.
    q = aq("양자로 연결되는 세상, 「양자 한국 2024」 (6.25~27) 개최")
    assert len(q.root.must) == 1 and q.root.must[0].min_match is not None
    assert isinstance(aq("(교통 OR 주거) 청년").root.must[0], AnyOf)
    assert aq("-(교통 주거) 청년").root.must_not


def test_each_word_groups_its_parts(aq):
    # a word Kiwi splits into parts is one word for scoring (each word scores once)
    clause = aq("규제샌드박스 개정").root.must[0]
    assert len(clause.words) == 2
    assert {a.terms[0] for a in clause.words[0]} == {"규제", "샌드", "박스"}
    assert [a for w in clause.words for a in w] == list(clause.alts)


def test_each_part_keeps_the_word_it_was_typed_in(aq):
    # a partial match names the words it lacks as the user typed them: every part of
    # "규제샌드박스를" is that word, an inflected word keeps its ending, "?" is dropped
    clause = aq("규제샌드박스를 개정했다?").root.must[0]
    assert len(clause.spelled) == len(clause.alts)
    labels = dict(zip((a.terms[0] for a in clause.alts), clause.spelled, strict=True))
    assert labels["규제"] == labels["박스"] == "규제샌드박스를"
    assert labels["개정"] == "개정했다"


@pytest.mark.parametrize(
    ("question", "focus"),
    [
        ("명성황후가 암살당한 해는?", "해"),
        ("1961년 이명박이 입학한 대학교 이름은?", "이름"),
        ("바이오쇼크에서 플레이어가 조심해야 하는 캐릭터는 무엇인가?", "캐릭터"),
        ("스마트시티 협의체가 만들어진 곳은?", "곳"),
    ],
)
def test_asked_for_noun_of_a_question_is_optional(aq, question, focus):
    clause = aq(question).root.must[0]
    assert [a.terms[0] for a in clause.optional] == [focus]
    assert focus not in {a.terms[0] for a in clause.alts}
    assert clause.alts  # the other words still match


@pytest.mark.parametrize(
    ("title", "aside"),
    [
        ("물가대책(안)", "안"),
        ("국내은행의 부실채권 현황[잠정]", "잠정"),
        ("공공 인공지능(AI) 활용 지원", "ai"),
        ("[보도자료] 스마트시티 협의회 출범", "보도"),
        ("【과거 안내서】 개인정보 암호화 안내서", "과거"),
    ],
)
def test_an_aside_of_a_title_scores_but_is_not_required(aq, title, aside):
    """A label, gloss or tag in brackets (the body seldom repeats it) is optional under
    match=auto: the words outside it are matched as before, the aside only ranks."""
    clause = aq(title).root.must[0]
    assert aside in {t for a in clause.optional for t in a.terms}
    assert aside not in {a.terms[0] for a in clause.alts}
    assert clause.alts


@pytest.mark.parametrize(
    "title",
    [
        "「통화신용정책보고서」(2023년 3월)",  # a date tells one issue of a series
        "SVB 사태 동향(3.17)",
        "법령해석 요청(자금세탁방지 관련 법인고객의 실제소유자 확인)",  # content
        "(퀀텀 코리아) 성과",  # a group that starts a word is the user's
    ],
)
def test_dates_long_parentheses_and_groups_are_no_asides(aq, title):
    assert not aq(title).root.must[0].optional


def test_the_parser_numbers_each_attached_parenthesis():
    words = parse("보고서(안)(검토) 결과 (교통 주거)").children
    assert [(w.text, w.aside) for w in words] == [
        ("보고서", 0),
        ("안", 1),
        ("검토", 2),
        ("결과", 0),
        ("교통", 0),
        ("주거", 0),
    ]


def test_each_parenthesis_is_its_own_aside(aq):
    clause = aq("보고서(안)(2023)").root.must[0]
    assert [a.terms[0] for a in clause.optional] == ["안"]
    assert "2023" in {a.terms[0] for a in clause.alts}  # the date beside it stays required


@pytest.mark.parametrize(
    ("text", "required"),
    [
        ("AI 정책 인공지능(AI)", "ai"),  # typed outside the brackets too
        ("인공지능(AI 정책", "정책"),  # a parenthesis never closed holds no aside
        ("（퀀텀 코리아） 성과", "퀀텀"),  # a full-width group before a word, as an ASCII one
    ],
)
def test_words_outside_an_aside_stay_required(aq, text, required):
    clause = aq(text).root.must[0]
    assert required in {a.terms[0] for a in clause.alts}
    assert required not in {a.terms[0] for a in clause.optional}


def test_a_subtitle_dash_may_close_inside_an_aside(aq):
    q = aq("-부제 제목(끝-)")
    assert not q.root.must_not
    assert "부제" in {a.terms[0] for a in q.root.must[0].alts}


def test_a_full_width_aside_attached_to_a_word_is_optional(aq):
    clause = aq("가계대출 동향（잠정）").root.must[0]
    assert [a.terms[0] for a in clause.optional] == ["잠정"]


def test_match_all_requires_the_aside_too():
    a = get_analyzer()
    clause = analyze_query(parse("물가대책(안)"), a, "all").root.must[0]
    assert not clause.optional
    assert "안" in {a.terms[0] for a in clause.alts}


@pytest.mark.parametrize(
    "text",
    ["스마트시티 교통", "탄소중립 건물 이름은", "명성황후", "김대중 후보는 누구와 연대하였나?"],
)
def test_other_queries_need_every_word(aq, text):
    clause = aq(text).root.must[0]
    assert not clause.optional and clause.min_match is None


def test_a_phrase_in_a_long_query_counts_like_its_words(aq):
    # a pasted title with "quoted" words: the phrase counts toward the minimum (as in
    # Elasticsearch's minimum_should_match), it does not exclude every document without it
    title = '신용정보법에서 말하는 "상거래관계가 종료된 날"에 법원의 면책결정을 받은 경우'
    root = aq(title).root
    assert len(root.must) == 1 and isinstance(root.must[0], AllOf)
    assert root.must[0].soft and "상거래" in {a.terms[0] for a in root.must[0].alts}
    # a short query's phrase is still required as a phrase
    assert any(isinstance(c, Phrase) for c in aq('"도시 재생" 사업').root.must)
    assert any(isinstance(c, Phrase) for c in aq('"도시 재생 뉴딜 사업"').root.must)


@pytest.mark.parametrize(
    "text, dates",
    [
        ("2023년 8월 기업경기실사지수(BSI)", [DateRef(2023, 8)]),
        ("[23.3월] 국제원자재시장", [DateRef(2023, 3)]),
        ("미국 소비자물가, ‘21.3월 이래 최저", [DateRef(2021, 3)]),
        ("합성데이터 생성·활용 안내서(2024.12.)", [DateRef(2024, 12)]),
        ("’21년말 국내은행의 부실채권 현황", [DateRef(2021)]),
        # a quarter: "2022년 3분기", "2023.4분기", "’23.3분기", "2023년 1/4분기"
        ("2022년 3분기 증권회사 영업실적", [DateRef(2022, quarter=3)]),
        ("2023.4분기 통화신용정책보고서", [DateRef(2023, quarter=4)]),
        ("‘23.3분기 중 증권회사 파생결합증권 발행·운용 현황", [DateRef(2023, quarter=3)]),
        ("2023년 1/4분기 예금취급기관 산업별대출금", [DateRef(2023, quarter=1)]),
        ("여신자금운용 서베이 결과(2024.3분기 전망)", [DateRef(2024, quarter=3)]),
        ("4분기 기업경기전망지수 조사", []),  # a quarter needs its year
        # a month without a year: that month of any year
        ("식약처, 8월 의료제품 허가 현황 안내", [DateRef(0, 8)]),
        ("국제금융시장 2월 동향 및 3월 전망", [DateRef(0, 2), DateRef(0, 3)]),
        ("미국 5월 소비자물가, ‘21.3월 이래 최저", [DateRef(2021, 3), DateRef(0, 5)]),
        ("2023년 1~3월 창업기업동향", [DateRef(2023)]),  # a range of months: the year
        ("3개월 연속 증가", []),
        ("코로나19 관련 동향 및 해외시각(8.10)", [DateRef(0, 8, 10)]),
        ("금감원장, 임원회의(11.5.) 당부사항", [DateRef(0, 11, 5)]),
        # not dates: counts, decimals, measures, excluded words and field filters
        ("20년 후 인구", []),
        ("금리 1.5% 인상(2.3배)", []),
        ("13대 주력산업 1,521명", []),
        ("스마트시티 교통", []),
        ("도시재생 -2019", []),
        ("도시재생 연도:2019", []),
        ("2002년 대선 후보로 노무현이 속한 정당의 이름은?", []),  # a question: an event's date
    ],
)
def test_dates_a_query_names(text, dates):
    assert list(query_dates(text)) == dates


def test_a_pasted_subtitle_between_dashes_is_text(aq):
    # "-부제 … 끝-" closes its dash: a subtitle, not an exclusion of its first word
    title = "2024 조세특례 심층평가 개인기부금 특별세액공제 -고액기부 세액공제 한시 상향-"
    root = aq(title).root
    assert not root.must_not
    assert "고액기부" in {t for c in root.must for a in c.alts for t in a.terms}
    assert aq("스마트시티 -교통").root.must_not  # an exclusion stays one


def test_a_tie_is_read_to_its_end_within_bounds():
    from policykb.backends.base import MAX_WINDOW, TIE_LIMIT, tie_first_request, tie_next_request

    assert tie_first_request(99_900, 100) == MAX_WINDOW
    # the page's last place (index 14) ties with the last hit read: read more
    assert tie_next_request([1.0] * 25, 25, 10, 5) == 50
    assert tie_next_request([2.0] * 15 + [1.0] * 10, 25, 10, 5) == 0  # the tie ended
    assert tie_next_request([1.0] * 20, 25, 10, 5) == 0  # the engine had no more
    # a tie of thousands (undated documents under sort=oldest) stops TIE_LIMIT past the page
    n = 15 + TIE_LIMIT
    assert tie_next_request([0.0] * 800, 800, 10, 5) == n
    assert tie_next_request([0.0] * n, n, 10, 5) == 0
    assert tie_next_request([1.0] * 25, 25, 10, 0) == 0  # no page at all


def test_a_question_keeps_its_own_minimum_and_pair_weight(aq):
    # a pasted title needs 80% of its terms, a question someone asks 75% (it rewords its
    # answer's sentence); its proximity pairs weigh QUESTION_PAIR_BOOST
    from policykb.backends.base import PAIR_BOOST, QUESTION_PAIR_BOOST, pair_boost
    from policykb.query import MSM_RATIO, QUESTION_MSM_RATIO, minimum_should_match

    assert minimum_should_match(8, 20) == math.ceil(MSM_RATIO * 20)
    assert minimum_should_match(8, 20, question=True) == math.ceil(QUESTION_MSM_RATIO * 20)
    assert minimum_should_match(3, 20, question=True) is None  # short: every word
    title = aq("국토교통부 스마트시티 국가시범도시 조성사업 추진 현황").root.must[0]
    question = aq("스마트시티 국가시범도시 조성사업을 추진하는 부처는 어디인가?").root.must[0]
    indirect = aq("스마트시티 국가시범도시 조성사업을 추진할 수 있는지").root.must[0]
    assert (title.question, question.question, indirect.question) == (False, True, False)
    assert pair_boost(title) == PAIR_BOOST and pair_boost(question) == QUESTION_PAIR_BOOST


def test_a_question_is_read_without_its_field_filters():
    from policykb.query import words_without_filters

    q = "탄소중립 건물의 이름은? 연도:2020..2024 기관:국토연구원"
    assert words_without_filters(q) == "탄소중립 건물의 이름은?"
    # a colon that names no field is part of the words
    assert words_without_filters("비율:30% 출산율은?") == "비율:30% 출산율은?"
    assert words_without_filters("Type:보도자료 청년") == "청년"
    # a word of a quoted phrase is no filter; a filter in parentheses is one
    assert words_without_filters('"스마트 연도:2020" 정책은?') == '"스마트 연도:2020" 정책은?'
    assert words_without_filters("청년 정책은? (기관:국토연구원)") == "청년 정책은?"
