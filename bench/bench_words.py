"""Benchmark: the sensitive-word filter's cost per message.

Builds the filter of chat/words.py (`WordFilter`: NFKC + case folding, one
ahocorasick_rs automaton) over a few thousand words and times `screen()` on a
mix of chat messages, next to the plain loop it replaces (`word in text` for
every word, the old `CHAT_BLOCKED_WORDS` check) measured in the same run; the
ratio is what to compare across machines.

Usage (from the project root; no database or server needed):

    .venv/bin/python bench/bench_words.py                # 3,000 words
    .venv/bin/python bench/bench_words.py --words 10000 --messages 5000

Messages: short and long chats, ASCII and Chinese, full-width and half-width
forms, about 5 % containing a word (those are masked: the slow path).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "yyc3_realtime.settings")

import django  # noqa: E402

django.setup()

from chat.words import WordFilter, normalize  # noqa: E402

CJK = [chr(c) for c in range(0x4E00, 0x4E00 + 6000)]
FILLER = "今天的剧情真好看主角演得不错期待下一集更新了吗哈哈哈"


def make_words(n: int, rng: random.Random) -> list[str]:
    found: set[str] = set()
    while len(found) < n:
        if rng.random() < 0.2:
            word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6))
        else:
            word = "".join(rng.choice(CJK) for _ in range(rng.randint(2, 4)))
        found.add(word)
    return sorted(found)


def make_messages(n: int, words: list[str], rng: random.Random) -> list[str]:
    messages = []
    for i in range(n):
        length = rng.choice((8, 20, 40, 120))
        text = "".join(rng.choice(FILLER) for _ in range(length))
        if i % 7 == 0:
            text += " ＦＵＬＬ ｗｉｄｔｈ ｶﾀｶﾅ 123"
        if i % 11 == 0:
            text = f"plain ascii chat message number {i}, nothing to see"
        if i % 20 == 0:
            cut = rng.randrange(len(text) + 1)
            text = text[:cut] + rng.choice(words) + text[cut:]
        messages.append(text)
    return messages


def per_message_us(fn, messages: list[str], repeat: int) -> float:
    """Best of `repeat` runs over all messages: microseconds per message."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for text in messages:
            fn(text)
        runs.append((time.perf_counter() - start) / len(messages) * 1e6)
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = make_words(args.words, rng)
    messages = make_messages(args.messages, words, rng)

    start = time.perf_counter()
    word_filter = WordFilter(
        [(normalize(w), "mask" if i % 2 else "block") for i, w in enumerate(words)]
    )
    build_ms = (time.perf_counter() - start) * 1000
    lowered = [w.lower() for w in words]

    def substring_loop(text: str) -> bool:
        folded = text.lower()
        return any(w in folded for w in lowered)

    hits = sum(1 for m in messages if word_filter.screen(m).blocked)
    masked = sum(1 for m in messages if word_filter.screen(m).masked)
    ac = per_message_us(word_filter.screen, messages, args.repeat)
    loop = per_message_us(substring_loop, messages, max(1, args.repeat // 2))
    clean = [m for m in messages if not word_filter.screen(m).masked]
    ac_clean = per_message_us(word_filter.screen, clean, args.repeat)
    lengths = [len(m) for m in messages]

    print(f"words: {len(words)} (automaton built in {build_ms:.0f} ms)")
    print(
        f"messages: {len(messages)}, median {statistics.median(lengths):.0f} chars; "
        f"{hits} blocked, {masked} masked"
    )
    print(f"filter (screen):           {ac:8.2f} us/message")
    print(f"  messages without a word: {ac_clean:8.2f} us/message")
    print(f"plain `word in text` loop: {loop:8.2f} us/message")
    print(f"ratio filter / loop:       {ac / loop:8.4f}  ({loop / ac:.0f}x faster)")


if __name__ == "__main__":
    main()
