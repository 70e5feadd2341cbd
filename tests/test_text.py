"""Splitting replies to a platform's limit: table-driven cases and properties over arbitrary text."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import pytest
import regex
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bridge.text import number_parts, split_text, utf8_len

FAMILY = "👨\u200d👩\u200d👧\u200d👦"  # one cluster: 7 code points, 25 UTF-8 bytes
RAINBOW_FLAG = "🏳️\u200d🌈"
FLAGS = "🇺🇸🇫🇷"  # two clusters of two regional indicators each
THUMBS = "👍🏽"  # emoji + skin tone modifier
E_ACUTE_DECOMPOSED = "e\u0301"  # NFC turns it into one code point
DEVANAGARI = "क्षि"
GREETING = "Hi Anna! Thanks for writing to us. We have looked into your order and it ships tomorrow."


def no_space(s: str) -> str:
    return "".join(s.split())


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("hello", 10, ["hello"]),
        ("hello", 5, ["hello"]),
        ("  hello \n", 5, ["hello"]),
        (" \u0301 hello", 10, [" \u0301 hello"]),  # a space that carries a combining mark stays
        ("", 10, []),
        (" \n\t ", 10, []),
        # sentence boundaries first
        ("One. Two. Three.", 10, ["One. Two.", "Three."]),
        ("Really? Yes! Good.", 12, ["Really? Yes!", "Good."]),
        ('He said "stop." Then left.', 16, ['He said "stop."', "Then left."]),
        ("第一句。第二句！第三句？", 5, ["第一句。", "第二句！", "第三句？"]),
        ("Line one\nline two\n\nline three", 20, ["Line one\nline two", "line three"]),
        # ... but not when the sentence would leave the part less than half full
        ("Hi! aaa bbb ccc ddd eee fff", 20, ["Hi! aaa bbb ccc ddd", "eee fff"]),
        # a decimal point or an abbreviation without a space is not a sentence end
        ("Pay 3.50 now please", 12, ["Pay 3.50 now", "please"]),
        # word boundaries next, whitespace at the cut dropped
        ("aaaa bbbb cccc", 9, ["aaaa bbbb", "cccc"]),
        ("aaaa     bbbb", 6, ["aaaa", "bbbb"]),
        # a no-break space is never a cut
        ("10\u00a0000 euros", 9, ["10\u00a0000", "euros"]),
        # a word longer than the limit is split between clusters
        ("abcdefghij", 4, ["abcd", "efgh", "ij"]),
        # a word too long for any part is cut anyway: the part before it is filled, not left as "x" alone
        ("x " + "y" * 12, 5, ["x yyy", "yyyyy", "yyyy"]),
        ("285 " + "x" * 281, 280, ["285 " + "x" * 276, "x" * 5]),
        # ... preferably after punctuation inside it (a URL's path), when that still fills half the part
        ("see example.com/orders/12345/items", 20, ["see example.com/", "orders/12345/items"]),
        ("ab " + "c" * 9 + "-" + "d" * 20, 16, ["ab ccccccccc-", "dddddddddddddddd", "dddd"]),
        # a word that fits a part of its own is still moved whole
        ("x " + "y" * 5, 5, ["x", "yyyyy"]),
        (FAMILY * 3, 15, [FAMILY * 2, FAMILY]),
        (RAINBOW_FLAG * 3, 10, [RAINBOW_FLAG * 2, RAINBOW_FLAG]),
        (FLAGS, 3, ["🇺🇸", "🇫🇷"]),
        (THUMBS * 3, 5, [THUMBS * 2, THUMBS]),
        # NFC first: the decomposed e-acute is one code point after normalising
        (E_ACUTE_DECOMPOSED * 4, 4, ["é" * 4]),
        ("a\u0302\u0301" * 3, 2, ["ấ" * 2, "ấ"]),
    ],
)
def test_split_text(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


def test_split_greeting_by_sentences() -> None:
    assert split_text(GREETING, 40) == [
        "Hi Anna! Thanks for writing to us.",
        "We have looked into your order and it",
        "ships tomorrow.",
    ]


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("héllo wörld", 6, ["héllo", "wörld"]),  # 6 bytes each
        ("ééé", 5, ["éé", "é"]),
        (THUMBS * 2, 8, [THUMBS, THUMBS]),  # 8 bytes each
        ("日本語のテキスト", 9, ["日本語", "のテキ", "スト"]),
        # a cluster larger than the limit on its own is cut between code points, as a last resort
        (FAMILY, 20, ["👨\u200d👩\u200d👧", "\u200d👦"]),
    ],
)
def test_split_by_utf8_bytes(text: str, limit: int, expected: list[str]) -> None:
    parts = split_text(text, limit, measure=utf8_len)
    assert parts == expected
    assert all(utf8_len(part) <= limit for part in parts)


def test_split_with_a_custom_measure() -> None:
    def weighted(s: str) -> int:  # X counts most CJK and emoji as 2
        return sum(2 if ord(c) > 0x10FF else 1 for c in s)

    assert split_text("ab 日本 cd", 7, measure=weighted) == ["ab 日本", "cd"]


@pytest.mark.parametrize("limit", [0, -1])
def test_split_refuses_a_limit_below_one(limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        split_text("hello", limit)


def test_split_refuses_a_limit_that_cannot_hold_a_character() -> None:
    with pytest.raises(ValueError, match="U\\+1F44D"):
        split_text("👍", 3, measure=utf8_len)


@pytest.mark.parametrize(
    ("s", "expected"),
    [("", 0), ("abc", 3), ("é", 2), ("€", 3), ("👍", 4), (FAMILY, 25), (E_ACUTE_DECOMPOSED, 3)],
)
def test_utf8_len(s: str, expected: int) -> None:
    assert utf8_len(s) == expected


@pytest.mark.parametrize(
    ("parts", "limit", "expected"),
    [
        ([], 10, []),
        (["only one"], 10, ["only one"]),
        (["aaa", "bbb"], 10, ["aaa (1/2)", "bbb (2/2)"]),
        (["aaa bbb", "ccc"], 10, ["aaa (1/3)", "bbb (2/3)", "ccc (3/3)"]),
        ([" aaa ", "", "bbb"], 10, ["aaa (1/2)", "bbb (2/2)"]),
        (["aaa bbb ccc"], 12, ["aaa bbb ccc"]),
        # one part too long: split, then re-split to make room for the markers
        (["aaa bbb ccc ddd"], 12, ["aaa (1/4)", "bbb (2/4)", "ccc (3/4)", "ddd (4/4)"]),
    ],
)
def test_number_parts(parts: list[str], limit: int, expected: list[str]) -> None:
    assert number_parts(parts, limit) == expected


def test_number_parts_fills_each_part() -> None:
    """A text just over the limit is two parts, each as full as it can be: splitting first and then
    re-splitting the pieces for the markers made 3 posts of 285 characters, two holding one word."""
    numbered = number_parts(["word " * 57], 280)
    assert [len(part) for part in numbered] == [280, 15]
    numbered = number_parts(["285 " + "x" * 281], 280)
    assert numbered == ["285 " + "x" * 270 + " (1/2)", "x" * 11 + " (2/2)"]


def test_number_parts_reserves_room_when_the_count_gains_a_digit() -> None:
    parts = split_text(" ".join(["word"] * 9), 9)  # nine parts: markers " (i/9)"
    assert len(parts) == 5
    numbered = number_parts(parts, 10)  # "word (1/9)" fits; two words with a marker do not
    assert numbered[0] == "word (1/9)"
    assert len(numbered) == 9
    numbered = number_parts(["word " * 10], 12)  # 5 parts, then 10 once markers are added
    assert numbered[0] == "word (1/10)" and numbered[-1] == "word (10/10)"
    assert all(len(part) <= 12 for part in numbered)


def test_number_parts_with_utf8_measure() -> None:
    numbered = number_parts(split_text("é" * 20, 10, measure=utf8_len), 12, measure=utf8_len)
    assert all(utf8_len(part) <= 12 for part in numbered)
    assert no_space("".join(p.rsplit(" (", 1)[0] for p in numbered)) == "é" * 20


def test_number_parts_refuses_a_limit_too_small_for_the_marker() -> None:
    with pytest.raises(ValueError):
        number_parts(["aaa", "bbb"], 6)


# --- properties --------------------------------------------------------------------------------

PIECES = [
    FAMILY,
    RAINBOW_FLAG,
    FLAGS,
    THUMBS,
    E_ACUTE_DECOMPOSED,
    "a\u0301\u0323",
    DEVANAGARI,
    "\r\n",
    "\n\n",
    " ",
    "\u00a0",
    ". ",
    "! ",
    "? ",
    "。",
    "word",
    "éèê",
    "日本語",
    "\u200d",
    "\u0301",
]
TEXTS = st.lists(st.one_of(st.text(max_size=40), st.sampled_from(PIECES)), max_size=200).map("".join)
MEASURES: list[Callable[[str], int]] = [len, utf8_len]


def clusters_of(s: str) -> list[str]:
    return regex.findall(r"\X", s)  # extended grapheme clusters, the splitter's own definition


def assert_parts_are_cluster_runs(parts: list[str], normal: str) -> None:
    """Each part is a run of whole clusters of the NFC text; only whitespace lies between them."""
    clusters, index = clusters_of(normal), 0
    for part in parts:
        while clusters[index].isspace():
            index += 1
        taken = ""
        while len(taken) < len(part):
            taken += clusters[index]
            index += 1
        assert taken == part, "a part begins or ends inside a grapheme cluster"
    assert all(cluster.isspace() for cluster in clusters[index:])


def draw_limit(data: st.DataObject, normal: str, measure: Callable[[str], int]) -> int:
    """A limit in 20..300, below the text's own length when it can be, so that it gets split."""
    return data.draw(st.integers(min_value=20, max_value=max(20, min(300, measure(normal) - 1))))


@settings(max_examples=300, deadline=None)
@given(text=TEXTS, measure=st.sampled_from(MEASURES), data=st.data())
def test_split_properties(text: str, measure: Callable[[str], int], data: st.DataObject) -> None:
    normal = unicodedata.normalize("NFC", text)
    limit = draw_limit(data, normal, measure)
    # A cluster longer than the limit has to be cut inside: that last resort is tested above.
    assume(all(measure(cluster) <= limit for cluster in clusters_of(normal)))
    parts = split_text(text, limit, measure=measure)
    assert all(measure(part) <= limit for part in parts)
    assert all(part for part in parts)
    # Whitespace is dropped at the cuts, unless it belongs to a cluster (" " + combining mark).
    edges = [cluster for part in parts for cluster in (clusters_of(part)[0], clusters_of(part)[-1])]
    assert not any(cluster.isspace() for cluster in edges)
    assert no_space("".join(parts)) == no_space(normal)
    assert_parts_are_cluster_runs(parts, normal)


@settings(max_examples=100, deadline=None)
@given(text=TEXTS, measure=st.sampled_from(MEASURES), data=st.data())
def test_number_parts_properties(text: str, measure: Callable[[str], int], data: st.DataObject) -> None:
    normal = unicodedata.normalize("NFC", text)
    limit = draw_limit(data, normal, measure)
    assume(all(measure(cluster) + 10 <= limit for cluster in clusters_of(normal)))
    numbered = number_parts(split_text(text, limit, measure=measure), limit, measure)
    assert all(measure(part) <= limit for part in numbered)
    if len(numbered) > 1:
        assert all(part.endswith(f"/{len(numbered)})") for part in numbered)
