"""X's weighted length against twitter-text's own conformance vectors, and replies split to fit it.

Vectors: twitter/twitter-text ``conformance/validate.yml`` (``WeightedTweetsCounterTest`` cases that
do not depend on emoji, and the emoji-discounting v3 cases), ``lengths`` and ``urls`` sections.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from connectors import xtext
from connectors.x import split_post
from tests.conftest import fixture_json

X10 = "xxxxxxxxxx-"
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
CJK_160 = (
    "故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，乌衣巷口夕阳斜。旧时王谢堂前燕，"
    "飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。泪湿罗巾梦不成，夜深前殿按歌声。"
    "红颜未老恩先断，斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。"
)
KANA = "あいうえおかきくけこ"


def test_constants_are_the_vendor_config_v3() -> None:
    config = fixture_json("specs/twitter_text_config_v3.json")
    assert config["version"] == 3 and config["emojiParsingEnabled"] is True
    assert (config["maxWeightedTweetLength"], config["scale"]) == (xtext.MAX_WEIGHTED_LENGTH, xtext.SCALE)
    assert (config["defaultWeight"], config["transformedURLLength"]) == (xtext.DEFAULT_WEIGHT, xtext.URL_LENGTH)
    assert [(r["start"], r["end"], r["weight"]) for r in config["ranges"]] == list(xtext.RANGES)


@pytest.mark.parametrize(
    ("text", "weighted", "valid"),
    [
        ("Hi http://test.co", 26, True),
        ("http://test.co", 23, True),
        ("285 chars-" + X10 * 25, 285, False),
        ("285 chars- http://www.twitter.com/jack " + X10 * 24, 299, False),
        (X10 * 24 + " http://www.twitter.com/jack ", 289, False),
        ("https://www.twitter.com/aloha " * 10, 240, True),
        (CJK_160, 320, False),
        ("the" + CJK_160, 323, False),
        ("\U0001f637" * 160, 320, False),
        ("A\u0301B", 2, True),  # normalised into one character
        ("A\ufb2c", 4, True),  # normalised into three characters
        ("282 chars-" + X10 * 24 + "xxxxxA\u0301x", 281, False),
        (FAMILY * 140, 280, True),
        (f"Unicode 10.0 emoji: \U0001f92a; \U0001f9d5; \U0001f9d5\U0001f3fe; {ENGLAND}", 34, True),
        ("Unicode 9.0 emoji: \U0001f920; \U0001f483; \U0001f483\U0001f3fe", 29, True),
        ("ABC\u202a\uffffABC\ufffe", 12, False),
        ("\u2066\u202ahttp://foobar.پاکستان/\u202c\u2069", 31, True),
        (
            "This is a tweet with general punctuation characters: \u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
            "\u2008\u2009\u200a\u200b\u200c\u200d ‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷",
            112,
            True,
        ),
        ("randomurlrandomurlrandomurlrandomurlrandomurlrandomurlrandomurls.com", 68, True),  # a 64-letter label
        (KANA * 12 + " http://" + KANA * 5 + "あいう.com", 358, False),  # host over 63 once punycoded
        (KANA * 12 + " http://" + KANA * 5 + "あい.com", 264, True),
        ("This is a test.", 15, True),
        ("Test https://test.com test https://test.com test.com test", 86, True),
        ("", 0, False),
    ],
)
def test_twitter_text_conformance(text: str, weighted: int, valid: bool) -> None:
    result = xtext.parse_post(text)
    assert (result.weighted_length, result.valid) == (weighted, valid)
    assert xtext.weighted_length(text) == weighted and xtext.is_valid_post(text) is valid


@pytest.mark.parametrize(
    ("text", "weighted"),
    [
        ("1\ufe0f\u20e3", 2),  # keycap
        ("\U0001f1fa\U0001f1f8", 2),  # a flag
        ("\U0001f1e6\U0001f1e6", 4),  # two regional indicators that are no flag
        ("\u2764\ufe0f", 2),
        ("\U0001f44d\U0001f3fd", 2),  # skin tone on a modifier base
        ("\U0001f637\U0001f3fd", 4),  # a skin tone cannot attach to a face
        ("\U0001f637\u0301", 3),  # a combining mark is not part of the emoji
        ("\u00a9", 1),  # © stays text, as in twemoji
        ("\U0001f3f3\ufe0f\u200d\U0001f308", 2),
        ("e.g. this", 9),
        ("see example.shop/returns now", 31),
        ("http://t.co/abc/def", 27),  # a t.co link ends after its slug
        ("ftp://www.example.com/", 22),
        ("@AcmeSupport", 12),
    ],
)
def test_emoji_and_url_weights(text: str, weighted: int) -> None:
    assert xtext.weighted_length(text) == weighted


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("http://example.com", ["http://example.com"]),
        ("HTTPS://www.ExaMPLE.COM/index.html", ["HTTPS://www.ExaMPLE.COM/index.html"]),
        ("foo.co.jp and t.co", ["foo.co.jp", "t.co"]),
        ("example.com/path/to/resource?search=foo&lang=en", ["example.com/path/to/resource?search=foo&lang=en"]),
        ("http://☃.net/", ["http://☃.net/"]),
        ("http://en.wikipedia.org/wiki/Primer_(film).", ["http://en.wikipedia.org/wiki/Primer_(film)"]),
        ("http://www.-domain4352.com/ http://256.1.2.3/ a.b @user.com", []),
    ],
)
def test_url_extraction(text: str, urls: list[str]) -> None:
    assert [text[start:end] for start, end in xtext.url_spans(text)] == urls


# -- replies split into valid posts ------------------------------------------------------------------------

WORDS = st.sampled_from(
    [
        "order", "refund", "thanks!", "the", "parcel.", "@AcmeSupport", "@jane_doe", "https://acme.example.com/track?id=42",
        "acme.shop/returns", "http://t.co/AbC123", "配送", "状況を確認します。", "😀", FAMILY, "🇫🇷", "Привет", "naïve",
        "\n", "—", "e.g.", "x" * 30,
    ]
)  # fmt: skip


def _numbering(part: str) -> tuple[str, ...]:
    """The ``(i/n)`` numbering at the end of a part, as ``(i, n)``."""
    match = re.search(r" \((\d+)/(\d+)\)$", part)
    assert match is not None
    return match.groups()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(WORDS, min_size=1, max_size=160))
def test_split_parts_are_valid_and_keep_every_url_and_mention(words: list[str]) -> None:
    text = " ".join(words)
    assume(text.strip())
    parts = split_post(text)
    assert all(xtext.is_valid_post(part) and xtext.weighted_length(part) <= 280 for part in parts)
    if len(parts) > 1:
        assert [_numbering(p) for p in parts] == [(str(i), str(len(parts))) for i in range(1, len(parts) + 1)]
        parts = [re.sub(r" \(\d+/\d+\)$", "", p) for p in parts]
    tokens = [token for part in parts for token in part.split()]
    assert tokens == text.split()  # nothing lost, nothing cut inside a word, URL or mention


def test_a_short_reply_is_one_unnumbered_post() -> None:
    assert split_post("  Thanks, Jane! We're on it: https://acme.example.com/status  ") == [
        "Thanks, Jane! We're on it: https://acme.example.com/status"
    ]


def test_urls_count_23_when_splitting() -> None:
    link = "https://acme.example.com/a/very/long/path/that/goes/on/and/on/" + "segment/" * 40
    text = " ".join([f"Step {i}: see {link}." for i in range(12)])
    parts = split_post(text)
    assert len(parts) == 2  # 12 × (weighted 36) in two posts, though the raw text is 4,400 characters
    assert all(link in part for part in parts) and sum(p.count(link) for p in parts) == 12


def test_invalid_characters_are_dropped_and_blank_text_refused() -> None:
    assert split_post("Hello\ufeff there\ufffe") == ["Hello there"]
    with pytest.raises(Exception, match="valid X posts"):
        split_post(" \ufeff ")


def test_text_without_spaces_is_never_cut_inside_a_url_or_mention() -> None:
    url = "https://acme.example.jp/track/12345"
    text = "ご注文の商品について確認しました" * 8 + url + "詳細は@AcmeSupportまでお問い合わせください" * 6
    parts = split_post(text)
    assert len(parts) > 1 and all(xtext.is_valid_post(part) for part in parts)
    assert sum(part.count(url) for part in parts) == 1
    assert sum(part.count("@AcmeSupport") for part in parts) == 6
    assert "".join(re.sub(r" \(\d+/\d+\)$", "", p) for p in parts).replace(" ", "") == text
