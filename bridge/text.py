"""Splitting an agent's reply into parts that fit a platform's length limit.

A platform counts length its own way (code points, UTF-8 bytes for Instagram, weighted characters
for X), so every function takes a ``measure``. ``measure`` must never shrink when text is appended.

Where a reply is cut, in order of preference:

1. after a sentence (``.``, ``!``, ``?`` or ``…``, closing quotes or brackets, then whitespace;
   ``。！？`` need no whitespace) or at a line break, if that still fills at least half of the part;
2. at whitespace between words, if that fills at least half of the part or the next word fits a part
   of its own (a word too long for any part is cut anyway: the part is filled instead of leaving a
   fragment such as "285" alone in a post);
3. inside a word too long for a part: after a hyphen, slash or other punctuation within it (a URL's
   path, a compound) if that fills at least half of the part, else between two grapheme clusters;
4. between two code points, only when a single grapheme cluster does not fit the limit on its own
   (a 25-byte family emoji against a 20-byte limit, a run of stacked combining marks): delivering
   the reply is worth more than keeping such a cluster whole.

Whitespace at a cut is dropped. No-break spaces are never chosen as a cut. Grapheme clusters are the
``regex`` package's extended grapheme clusters (``\\X``), kept to the current Unicode rules (Indic
conjuncts such as क्ष stay whole since Unicode 15.1).
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Callable, Sequence

import regex

Measure = Callable[[str], int]

_BREAKING_SPACE = r"[^\S\u00a0\u2007\u202f]"  # whitespace, except the no-break spaces
_SENTENCE_CUT = re.compile(
    rf"[.!?…][\"'”’»)\]]*{_BREAKING_SPACE}+"
    rf"|{_BREAKING_SPACE}*[\n\r\u2028\u2029]{_BREAKING_SPACE}*"
    rf"|[。！？]{_BREAKING_SPACE}*"
)
_WORD_CUT = re.compile(rf"{_BREAKING_SPACE}+")
_GRAPHEME = regex.compile(r"\X")  # one extended grapheme cluster (Unicode's UAX #29)
_INNER_CUT = re.compile(r"[-‐–—/\\_.,;:!?&=+~|)\]}>·]+")  # inside a long word: after its punctuation
# A sentence cut (and a cut before a word too long for any part, or inside one) is taken only if it
# keeps at least this share of the longest part that fits, so that "Hi Anna!" is not a part of its own.
_MIN_FILL = 0.5


def utf8_len(s: str) -> int:
    """Return the length of ``s`` in UTF-8 bytes (Instagram counts its 1,000 limit this way)."""
    return len(s.encode("utf-8", "surrogatepass"))


def split_text(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """Split ``text`` into parts whose ``measure`` is at most ``limit``.

    The text is NFC-normalised and stripped first; if it fits, it comes back as the only part.
    Parts are never empty; blank text gives ``[]``. Raises ``ValueError`` if ``limit`` cannot hold
    even a single code point of the text.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    clusters = _strip(_GRAPHEME.findall(unicodedata.normalize("NFC", text)))
    whole = "".join(clusters)
    if not whole or measure(whole) <= limit:
        return [whole] if whole else []
    return _Splitter(_fit_clusters(clusters, limit, measure), limit, measure).split()


def number_parts(parts: Sequence[str], limit: int, measure: Measure = len) -> list[str]:
    """Append `` (i/n)`` to each part, re-splitting so every numbered part fits ``limit``.

    Parts go through :func:`split_text` first; if that leaves a single part, it needs no number.
    Raises ``ValueError`` if ``limit`` cannot hold a marker and some text.
    """
    pieces = _split_all(parts, limit, measure)
    count = len(pieces)
    while count > 1:
        # Each given part is split again as a whole, room kept for the marker: re-splitting the pieces
        # instead left a word or two alone in a post ("word word (1/3)", "word (2/3)", "word (3/3)").
        numbered = _split_all(parts, limit, _with_suffix(measure, _marker(count, count)))
        # Room was kept for markers of `count` parts: enough as long as the digits do not grow.
        if len(str(len(numbered))) <= len(str(count)):
            return [piece + _marker(i, len(numbered)) for i, piece in enumerate(numbered, start=1)]
        count = len(numbered)
    return pieces


class _Splitter:
    """Greedy splitter over a list of grapheme clusters, none of which exceeds the limit alone."""

    def __init__(self, clusters: list[str], limit: int, measure: Measure) -> None:
        self.clusters = clusters
        self.limit = limit
        self.measure = measure
        text, boundaries = "".join(clusters), _boundaries(clusters)
        self.sentence_cuts = _cuts(_SENTENCE_CUT, text, boundaries)
        self.word_cuts = _cuts(_WORD_CUT, text, boundaries)
        self.inner_cuts = _cuts(_INNER_CUT, text, boundaries)

    def split(self) -> list[str]:
        """Cut the clusters into parts, dropping the whitespace at every cut."""
        parts: list[str] = []
        start = 0
        while start < len(self.clusters):
            end = self.choose_cut(start)
            parts.append(self.part(start, end))
            start = _skip_space(self.clusters, end)
        return parts

    def choose_cut(self, start: int) -> int:
        """Return where the part beginning at cluster ``start`` should end."""
        longest = self.longest_fit(start)
        if longest == len(self.clusters):
            return longest
        filled = start + (longest - start) * _MIN_FILL
        sentence = self.last_fitting(self.sentence_cuts, start, longest)
        if sentence is not None and sentence >= filled:
            return sentence
        word = self.last_fitting(self.word_cuts, start, longest)
        if word is not None and (word >= filled or self.next_word_fits(word)):
            return word
        inner = self.last_fitting(self.inner_cuts, start, longest)
        return inner if inner is not None and inner >= filled else longest

    def next_word_fits(self, cut: int) -> bool:
        """Tell whether the word after ``cut`` fits a part of its own (then it is worth moving it whole)."""
        start = _skip_space(self.clusters, cut)
        following = bisect.bisect_right(self.word_cuts, start)
        end = self.word_cuts[following] if following < len(self.word_cuts) else len(self.clusters)
        return self.fits(start, end)

    def longest_fit(self, start: int) -> int:
        """Return the largest end whose part fits, by galloping then bisecting."""
        end = len(self.clusters)
        low, step = start + 1, 1  # one cluster always fits: see _fit_clusters
        while low < end and self.fits(start, min(low + step, end)):
            low, step = min(low + step, end), step * 2
        high = min(low + step, end)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if self.fits(start, middle) else (low, middle)
        return low

    def last_fitting(self, cuts: list[int], start: int, longest: int) -> int | None:
        """Return the last cut in (start, longest] whose part fits, if any."""
        first, last = bisect.bisect_right(cuts, start), bisect.bisect_right(cuts, longest)
        return next((cut for cut in reversed(cuts[first:last]) if self.fits(start, cut)), None)

    def fits(self, start: int, end: int) -> bool:
        """Tell whether the part from cluster ``start`` to ``end`` is within the limit."""
        return self.measure(self.part(start, end)) <= self.limit

    def part(self, start: int, end: int) -> str:
        """Return clusters ``start`` to ``end`` without the whitespace at the end."""
        while end > start and self.clusters[end - 1].isspace():
            end -= 1
        return "".join(self.clusters[start:end])


def _strip(clusters: list[str]) -> list[str]:
    start = _skip_space(clusters, 0)
    end = len(clusters)
    while end > start and clusters[end - 1].isspace():
        end -= 1
    return clusters[start:end]


def _skip_space(clusters: list[str], index: int) -> int:
    while index < len(clusters) and clusters[index].isspace():
        index += 1
    return index


def _fit_clusters(clusters: list[str], limit: int, measure: Measure) -> list[str]:
    """Break any cluster that does not fit the limit on its own into code point runs."""
    fitted: list[str] = []
    for cluster in clusters:
        fitted.extend([cluster] if measure(cluster) <= limit else _code_point_runs(cluster, limit, measure))
    return fitted


def _code_point_runs(cluster: str, limit: int, measure: Measure) -> list[str]:
    runs = [""]
    for code_point in cluster:
        if measure(code_point) > limit:
            raise ValueError(f"limit {limit} cannot hold the character U+{ord(code_point):04X}")
        if measure(runs[-1] + code_point) > limit:
            runs.append("")
        runs[-1] += code_point
    return runs


def _boundaries(clusters: list[str]) -> dict[int, int]:
    """Map the string offset where each cluster ends to the cluster count up to it."""
    offsets, offset = {0: 0}, 0
    for index, cluster in enumerate(clusters, start=1):
        offset += len(cluster)
        offsets[offset] = index
    return offsets


def _cuts(pattern: re.Pattern[str], text: str, boundaries: dict[int, int]) -> list[int]:
    """Return, as cluster indices, the ends of ``pattern``'s matches that fall between clusters."""
    ends = (match.end() for match in pattern.finditer(text))
    return [boundaries[end] for end in ends if end in boundaries]


def _split_all(parts: Sequence[str], limit: int, measure: Measure) -> list[str]:
    return [piece for part in parts for piece in split_text(part, limit, measure=measure)]


def _marker(index: int, count: int) -> str:
    return f" ({index}/{count})"


def _with_suffix(measure: Measure, suffix: str) -> Measure:
    def measure_with_suffix(text: str) -> int:
        return measure(text + suffix)

    return measure_with_suffix
