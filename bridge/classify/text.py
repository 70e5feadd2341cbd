"""Tokens for the default classifier: one normalisation for the word lists and for the text.

Latin-script words are case-folded and lose their accents (``très`` → ``tres``) so a list matches
however people type on a phone; Arabic-script words lose short vowels and tatweel and have their letter
variants merged (Arabic and Persian keyboards write ی/ي and ک/ك differently); Devanagari and Cyrillic
are only case-folded (their marks carry meaning).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_WORD = r"[\w\u0900-\u097F\u064B-\u065F\u0670\u200c]+(?:['’][\w]+)*"
_EMOTICON = r"(?<!\w)(?:[:;=8][-'^]?[()\[\]DPpOo3/\\|*@$]+|<3+|[()\[\]]+[-']?[:;=])(?!\w)"
_TOKEN = re.compile(
    rf"(?P<url>https?://\S+|www\.\S+)|(?P<mention>@\w+)|(?P<emoticon>{_EMOTICON})|(?P<word>{_WORD})|(?P<mark>[!?]+)"
)
_ARABIC = re.compile(r"[\u0600-\u06ff]")
_KEEP_MARKS = re.compile(r"[\u0900-\u097f\u0400-\u04ff]")  # Devanagari, Cyrillic
_ARABIC_MARKS = re.compile(r"[\u064B-\u065F\u0670\u0640]")
_ARABIC_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ي": "ی", "ى": "ی", "ك": "ک", "ة": "ه", "ۀ": "ه"}
)
_REPEAT = re.compile(r"(\w)\1{2,}")


@dataclass(frozen=True, slots=True)
class Token:
    """One token: as written, normalised, and what kind (``word``, ``emoticon``, ``mark``)."""

    raw: str
    norm: str
    kind: str


def fold(word: str) -> str:
    """The normal form of a word, for the lists and the text alike."""
    if word.isascii():
        return word.lower()
    word = word.casefold().replace("’", "'")
    if _ARABIC.search(word):
        return _ARABIC_MARKS.sub("", word).translate(_ARABIC_LETTERS).replace("\u200c", "")
    if _KEEP_MARKS.search(word):
        return word.replace("ё", "е")
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def tokens(text: str) -> list[Token]:
    """Words, emoticons and runs of ``!``/``?``; links and @mentions are left out (they say nothing)."""
    found = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "word"
        if kind in ("url", "mention"):
            continue
        raw = m.group()
        found.append(Token(raw, raw if kind != "word" else fold(raw), kind))
    return found


def squeeze(word: str) -> tuple[str, ...]:
    """Spellings to try for an elongated word: ``soooo`` → ``soo``, ``so``."""
    if not _REPEAT.search(word):
        return ()
    return (_REPEAT.sub(r"\1\1", word), _REPEAT.sub(r"\1", word))
