"""Tests for the offline backend: corpus, BM25 retrieval and chunked streaming."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from chat.ai import offline
from chat.ai.offline import BM25, OfflineBackend, compose_answer, retrieve, tokenize

HISTORY = [
    {"role": "user", "content": "洛阳在哪里？"},
    {"role": "assistant", "content": "洛阳在河南省西部。"},
]


async def collect(stream: AsyncIterator[str]) -> list[str]:
    return [piece async for piece in stream]


def test_corpus_is_small_unique_and_covers_required_topics() -> None:
    entries = offline.entries()
    assert 25 <= len(entries) <= 40
    assert (
        len({e.id for e in entries}) == len({e.title for e in entries}) == len(entries)
    )
    assert all(e.text.strip() for e in entries)
    corpus = "".join(e.title + e.text for e in entries)
    for topic in (
        "河图洛书",
        "十三朝古都",
        "龙门石窟",
        "白马寺",
        "牡丹文化节",
        "二里头",
    ):
        assert topic in corpus
    for topic in ("周公", "关林", "洛阳纸贵", "唐三彩", "应天门", "老君山", "河洛大鼓"):
        assert topic in corpus
    for topic in ("水席", "杜康", "伊尹", "弹幕", "直播", "文化圈", "通知", "举报"):
        assert topic in corpus


def test_tokenize_mixes_cjk_unigrams_bigrams_and_ascii_words() -> None:
    assert tokenize("龙门石窟 AI助手v2") == [
        "龙", "门", "石", "窟", "龙门", "门石", "石窟",
        "ai", "助", "手", "助手", "v2",
    ]  # fmt: skip
    assert tokenize("是什么？") == []  # question scaffolding only


def test_bm25_prefers_rare_terms_and_scores_misses_zero() -> None:
    bm25 = BM25([["a", "b"], ["a", "c"], ["a", "a", "d"]])
    assert bm25.idf["c"] > bm25.idf["a"] > 0
    scores = bm25.scores(["c"])
    assert scores[1] > 0 and scores[0] == scores[2] == 0
    assert bm25.scores(["zzz"]) == [0.0, 0.0, 0.0]


@pytest.mark.parametrize(
    ("prompt", "title"),
    [
        ("龙门石窟在哪里", "龙门石窟"),
        ("河图洛书是什么", "河图洛书"),
        ("白马寺是什么时候建的", "白马寺"),
        ("洛阳为什么叫十三朝古都", "洛阳：十三朝古都"),
        ("二里头遗址", "二里头遗址"),
        ("洛阳纸贵的典故", "洛阳纸贵"),
        ("何以解忧", "杜康酒"),
        ("洛阳水席有哪些菜", "洛阳水席"),
        ("怎么发弹幕", "弹幕"),
        ("如何举报不良内容", "举报不良内容"),
        ("你是谁", "AI助手"),
    ],
)
def test_offline_retrieves_the_relevant_entry(prompt: str, title: str) -> None:
    hits = retrieve(prompt)
    assert hits and hits[0].entry.title == title
    assert compose_answer(prompt).startswith(hits[0].entry.text)


@pytest.mark.parametrize(
    "prompt", ["asdf qwer zxcv", "？？？", "", "量子力学", "我想买手机"]
)
def test_offline_falls_back_politely_on_unrelated_prompts(prompt: str) -> None:
    assert retrieve(prompt) == []
    answer = compose_answer(prompt)
    assert answer == offline.FALLBACK_ANSWER
    assert "抱歉" in answer and "龙门石窟" in answer and "弹幕" in answer


def test_offline_adds_related_line_only_for_close_runner_up() -> None:
    assert compose_answer("洛阳牡丹什么时候开").endswith("\n相关：洛阳牡丹文化节")
    assert "相关：" not in compose_answer("龙门石窟在哪里")


@pytest.mark.asyncio
async def test_offline_stream_is_chunked_deterministic_and_complete() -> None:
    backend = OfflineBackend()
    prompt = "龙门石窟在哪里"
    first = await collect(backend.stream_reply(prompt=prompt, history=[]))
    second = await collect(backend.stream_reply(prompt=prompt, history=HISTORY))
    assert first == second
    assert len(first) > 1 and all(0 < len(p) <= offline.CHUNK_CHARS for p in first)
    assert "".join(first) == compose_answer(prompt)
    assert "".join(first).startswith("龙门石窟位于洛阳市南郊")


@pytest.mark.asyncio
async def test_offline_stream_yields_to_the_event_loop() -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    pieces = await collect(OfflineBackend().stream_reply(prompt="白马寺", history=[]))
    task.cancel()
    assert ticks - before >= len(pieces) - 1
