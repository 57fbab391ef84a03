"""Offline default backend: BM25 retrieval over a small bundled Chinese corpus."""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from functools import cache
from pathlib import Path
from typing import NamedTuple

CORPUS_PATH = Path(__file__).with_name("corpus.json")
CHUNK_CHARS = 8
# Tuned on the bundled corpus: real questions score 9+, unrelated prompts that
# share a stray character or a generic word like "一部" stay below ~6.
MIN_SCORE = 7.0
# The runner-up is mentioned only when it is nearly as relevant as the top hit.
RELATED_RATIO = 0.75

FALLBACK_ANSWER = (
    "抱歉，我暂时没有找到与您的问题直接相关的内容。"
    "我可以为您介绍河洛文化：河图洛书、十三朝古都洛阳、龙门石窟、白马寺、洛阳牡丹与牡丹文化节、"
    "二里头遗址、周公与周礼、关林、洛阳纸贵、唐三彩、应天门、老君山、河洛大鼓、洛阳水席、"
    "杜康酒、伊尹等；也可以解答平台使用问题：观看短剧、弹幕、直播、文化圈、消息通知和举报。"
    "换个说法再问问我吧！"
)

_CJK_OR_WORD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+")
# Question scaffolding ("什么", "哪里", "介绍一下" ...) carries no topic, and without
# this list it would let platform FAQ entries match every question.
_STOP_CHARS = "的了是在吗呢吧啊么什哪怎请问和与我你他她它这那个一也都就很有些"
# fmt: off
_STOP_BIGRAMS = (
    "什么", "哪里", "哪儿", "哪个", "怎么", "怎样", "如何", "请问",
    "一下", "介绍", "是什", "么是", "在哪", "我想", "想知", "知道",
    "可以", "告诉", "为什", "有什", "有哪", "哪些", "一些", "些什",
    "吗我", "给我", "讲讲", "说说", "关于", "这个", "那个", "是谁",
    "谁是",
)
# fmt: on
_STOP_TOKENS = frozenset(_STOP_CHARS) | frozenset(_STOP_BIGRAMS)


class Entry(NamedTuple):
    """One knowledge-base article."""

    id: str
    title: str
    text: str


class Hit(NamedTuple):
    """A retrieved entry with its BM25 score."""

    entry: Entry
    score: float


def tokenize(text: str) -> list[str]:
    """CJK character unigrams + bigrams and lowercase ASCII words, minus stop tokens."""
    tokens: list[str] = []
    for run in _CJK_OR_WORD.findall(text.lower()):
        if run.isascii():
            tokens.append(run)
            continue
        tokens.extend(run)
        tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
    return [t for t in tokens if t not in _STOP_TOKENS]


class BM25:
    """Okapi BM25 over pre-tokenized documents."""

    def __init__(
        self, docs: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75
    ) -> None:
        self.k1 = k1
        self.b = b
        self.tfs = [Counter(doc) for doc in docs]
        self.lengths = [len(doc) for doc in docs]
        self.avgdl = sum(self.lengths) / len(docs) if docs else 0.0
        n = len(docs)
        df = Counter(term for tf in self.tfs for term in tf)
        # The "+1" (Lucene) variant keeps IDF positive even for very common terms.
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        """Score every document against the query terms (each unique term once)."""
        terms = [t for t in dict.fromkeys(query) if t in self.idf]
        result: list[float] = []
        for tf, length in zip(self.tfs, self.lengths, strict=True):
            norm = self.k1 * (1 - self.b + self.b * length / (self.avgdl or 1.0))
            score = 0.0
            for term in terms:
                freq = tf.get(term, 0)
                if freq:
                    score += self.idf[term] * freq * (self.k1 + 1) / (freq + norm)
            result.append(score)
        return result


class _Index(NamedTuple):
    entries: list[Entry]
    bm25: BM25


@cache
def _index() -> _Index:
    # Built once per process on first use: a ~15 KB file, so the single read and
    # tokenization are cheap enough to do inline even inside the event loop.
    raw = json.loads(CORPUS_PATH.read_text(encoding="utf-8"))
    entries: list[Entry] = []
    docs: list[list[str]] = []
    for item in raw:
        entries.append(Entry(item["id"], item["title"], item["text"]))
        keywords = " ".join(item.get("keywords", []))
        # Title and keywords are repeated to weight them above incidental body text.
        docs.append(
            tokenize(f"{item['title']} {keywords}") * 2 + tokenize(item["text"])
        )
    return _Index(entries, BM25(docs))


def entries() -> list[Entry]:
    """All corpus entries in file order."""
    return list(_index().entries)


def retrieve(prompt: str, limit: int = 3) -> list[Hit]:
    """Top ``limit`` entries scoring above MIN_SCORE, best first (ties: file order)."""
    index = _index()
    query = tokenize(prompt)
    scores = index.bm25.scores(query)
    # Single shared characters are weak evidence in Chinese (手 in 助手 vs 手机), so
    # a hit must also share at least one bigram or ASCII word with the prompt.
    strong = {t for t in query if len(t) >= 2}
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
    return [
        Hit(index.entries[i], scores[i])
        for i in order
        if scores[i] >= MIN_SCORE and not strong.isdisjoint(index.bm25.tfs[i])
    ][:limit]


def compose_answer(prompt: str) -> str:
    """Deterministic full answer for ``prompt`` (fallback text when nothing matches)."""
    hits = retrieve(prompt, limit=2)
    if not hits:
        return FALLBACK_ANSWER
    answer = hits[0].entry.text
    if len(hits) > 1 and hits[1].score >= RELATED_RATIO * hits[0].score:
        answer += f"\n相关：{hits[1].entry.title}"
    return answer


def chunk_text(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Split ``text`` into consecutive pieces of at most ``size`` characters."""
    return [text[i : i + size] for i in range(0, len(text), size)]


class OfflineBackend:
    """Answers from the bundled corpus; needs no network and no settings."""

    def __init__(self, delay_seconds: float = 0.0, chunk_chars: int = CHUNK_CHARS):
        self.delay_seconds = max(0.0, delay_seconds)
        self.chunk_chars = chunk_chars

    def __repr__(self) -> str:
        return f"OfflineBackend(delay_seconds={self.delay_seconds})"

    async def stream_reply(
        self, *, prompt: str, history: list[dict[str, str]]
    ) -> AsyncIterator[str]:
        """Yield the corpus answer in small chunks; ``history`` is ignored."""
        # History is deliberately unused so the same prompt always gets the same
        # answer, which keeps the offline mode predictable for demos and tests.
        for piece in chunk_text(compose_answer(prompt), self.chunk_chars):
            yield piece
            # sleep(0) still yields control so other consumers on the loop progress.
            await asyncio.sleep(self.delay_seconds)
