"""The sensitive-word filter: each word blocks a message or masks itself in it.

Chinese has no word boundaries, so a word matches as a substring, after NFKC
(full-width and half-width forms alike) and case folding of both the word and
the message. The words (admin, `SensitiveWord`) are compiled into one
Aho-Corasick automaton (ahocorasick_rs) per process: a message costs one pass
over its text, however many words there are (bench/bench_words.py).

Every change to the list bumps `WordListVersion`; a process reads that number at
most every `CHAT_WORDS_CHECK_SECONDS` and rebuilds when it moved, so the list is
never read per message. The process that made a change rebuilds at once.
"""

import threading
import time
import unicodedata
from dataclasses import dataclass

import ahocorasick_rs

from django.conf import settings

from chat.models import SensitiveWord, WordListVersion

MASK = "＊"
BLOCK = SensitiveWord.Action.BLOCK.value


def normalize(text: str) -> str:
    """Return `text` as matched: NFKC, then case-folded."""
    if text.isascii():
        return text.lower()  # NFKC leaves ASCII alone; casefold is lower there
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Screened:
    """What the filter made of a text: refused, or the text to store and send."""

    text: str
    blocked: bool = False
    masked: bool = False


class WordFilter:
    """A compiled word list: `screen(text)`. Immutable once built."""

    def __init__(self, words: list[tuple[str, str]]) -> None:
        """`words`: (normalized word, action) pairs; a word listed twice blocks
        if either entry does."""
        actions: dict[str, str] = {}
        for word, action in words:
            if word and actions.get(word) != BLOCK:
                actions[word] = action
        self.size = len(actions)
        # The longest word: how much of a text still being written may yet
        # become part of a match (the assistant's streamed reply holds it back).
        self.longest = max(map(len, actions), default=0)
        self._blocks = [action == BLOCK for action in actions.values()]
        # ahocorasick_rs (Rust) rather than pyahocorasick: its nodes scan their
        # children in a list, and thousands of CJK first characters made a
        # message cost ~60 us (bench/bench_words.py).
        self._automaton = ahocorasick_rs.AhoCorasick(list(actions)) if actions else None

    def _matches(self, folded: str) -> list[tuple[int, int, int]]:
        """(word index, start, end) of every match, overlapping ones included."""
        assert self._automaton is not None
        return self._automaton.find_matches_as_indexes(folded, overlapping=True)

    def screen(self, text: str) -> Screened:
        """Return whether `text` is blocked, or the text with masked words as ＊."""
        if self._automaton is None:
            return Screened(text)
        hits = self._matches(normalize(text))
        if not hits:
            return Screened(text)
        if any(self._blocks[i] for i, _, _ in hits):
            return Screened(text, blocked=True)
        return Screened(self._mask(text), masked=True)

    def _mask(self, text: str) -> str:
        """Replace each character of the original text that a word covers."""
        folded, origin = _fold_with_origin(text)
        covered = bytearray(len(text))
        for _, start, end in self._matches(folded):
            for i in range(origin[start][0], origin[end - 1][1]):
                covered[i] = 1
        if not any(covered):
            # Folding piece by piece differed from folding the whole text (a
            # rare composition across pieces): mask the folded text instead.
            return self._mask_folded(normalize(text))
        return "".join(MASK if c else ch for ch, c in zip(text, covered, strict=True))

    def _mask_folded(self, folded: str) -> str:
        chars = list(folded)
        for _, start, end in self._matches(folded):
            chars[start:end] = MASK * (end - start)
        return "".join(chars)


def _fold_with_origin(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Return the folded text and, per folded character, the span of the
    original characters it came from. Folded piece by piece: a base character
    with its combining marks, so offsets map back."""
    if text.isascii():
        return text.lower(), [(i, i + 1) for i in range(len(text))]
    parts: list[str] = []
    origin: list[tuple[int, int]] = []
    start = 0
    for i in range(1, len(text) + 1):
        if i == len(text) or not unicodedata.combining(text[i]):
            piece = normalize(text[start:i])
            parts.append(piece)
            origin.extend([(start, i)] * len(piece))
            start = i
    return "".join(parts), origin


def word_list_version() -> int:
    """Return the word list's version number (0 before the first change)."""
    found = WordListVersion.objects.filter(pk=1).values_list("version", flat=True)
    return found.first() or 0


class WordList:
    """The process's current `WordFilter`, shared by every thread of it.

    Read from the chat writer's database thread and from admin and command
    threads alike, where no per-loop runtime is reachable: one per process,
    like Django's own caches of compiled state.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._filter = WordFilter([])
        self._key: tuple | None = None
        self._checked = float("-inf")
        self._extra: list[str] | None = None

    def current(self) -> WordFilter:
        """Return the filter, rebuilt when the list changed (checked at most
        every CHAT_WORDS_CHECK_SECONDS)."""
        extra = settings.CHAT_BLOCKED_WORDS
        fresh = time.monotonic() - self._checked < settings.CHAT_WORDS_CHECK_SECONDS
        if fresh and extra is self._extra:
            return self._filter
        with self._lock:
            # The version first: a change committed between the two reads is
            # read with the older number and so read again next time.
            key = (word_list_version(), tuple(extra))
            if key != self._key:
                self._filter = WordFilter(_load_words(key[1]))
                self._key = key
            self._checked, self._extra = time.monotonic(), extra
            return self._filter

    def invalidate(self) -> None:
        """Read the list again on next use (called after this process changed it)."""
        self._key = None
        self._checked = float("-inf")


def _load_words(extra_blocked: tuple[str, ...]) -> list[tuple[str, str]]:
    words = list(SensitiveWord.objects.values_list("normalized", "action"))
    # CHAT_BLOCKED_WORDS (environment) still blocks, beside the admin's list.
    return words + [(normalize(w), BLOCK) for w in extra_blocked if w.strip()]


words = WordList()


def screen(text: str) -> Screened:
    """Screen `text` with the current word list."""
    return words.current().screen(text)
