"""realtime.density: which frames of a busy topic every socket gets."""

import pytest

from realtime import density
from realtime.density import Density


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(density.time, "monotonic", clock)
    return clock


def offer(d: Density, clock: Clock, senders: list[str], per_second: int, seconds=10):
    """Each sender sends `per_second` frames a second, evenly and interleaved;
    return the frames kept per sender."""
    kept = dict.fromkeys(senders, 0)
    step = 1 / (per_second * len(senders))
    for _ in range(seconds * per_second):
        for sender in senders:
            clock.now += step
            kept[sender] += d.admit("live", sender)
    return kept


def test_a_topic_without_a_rate_keeps_everything(clock):
    d = Density()
    assert offer(d, clock, ["a"], 50) == {"a": 500}
    d.set_rate("live", 0)
    assert offer(d, clock, ["a"], 50) == {"a": 500}


def test_above_the_rate_the_sample_keeps_up_with_the_rate(clock):
    d = Density()
    d.set_rate("live", 10)
    kept = offer(d, clock, [f"s{i}" for i in range(5)], 4, seconds=20)
    # 20 frames/s offered, 10/s kept (the bucket starts with BURST), 2/s each
    assert 195 <= sum(kept.values()) <= 200 + density.BURST
    assert all(38 <= n <= 42 for n in kept.values())


def test_below_the_rate_everything_is_kept(clock):
    d = Density()
    d.set_rate("live", 10)
    assert offer(d, clock, ["a", "b"], 4) == {"a": 40, "b": 40}


def test_back_to_back_frames_go_out_at_most_burst_at_a_time(clock):
    d = Density()
    d.set_rate("live", 10)
    clock.now += 5  # a full bucket
    burst = int(density.BURST)
    kept = [d.admit("live", f"s{i}") for i in range(5)]
    assert kept == [True] * burst + [False] * (5 - burst)
    clock.now += 0.1  # one more token
    assert d.admit("live", "s3") and not d.admit("live", "s4")


def test_a_sender_gets_its_fair_share_while_others_send(clock):
    d = Density()
    d.set_rate("live", 10)
    kept = dict.fromkeys(["loud", "quiet"], 0)
    for tick in range(200):  # 10 s: "loud" sends 18/s, "quiet" 2/s
        clock.now += 0.05
        for sender in ["loud"] if tick % 10 else ["quiet"]:
            kept[sender] += d.admit("live", sender)
    # two senders: "loud" gets at most half of the rate, and cannot crowd
    # "quiet" out: the tokens it may not take wait for "quiet"
    assert kept["loud"] <= 5 * 10 + density.BURST
    assert kept["quiet"] == 20


def test_exempt_senders_are_always_kept_and_count_towards_the_rate(clock):
    d = Density()
    d.set_rate("live", 4)
    d.exempt("live", "host")
    kept = offer(d, clock, ["host", "viewer"], 4)
    assert kept["host"] == 40
    assert kept["viewer"] <= 4  # the host used the rate up


def test_a_new_rate_applies_at_once_and_forget_drops_the_topic(clock):
    d = Density()
    d.set_rate("live", 2)
    assert sum(offer(d, clock, ["a"], 20, seconds=5).values()) <= 12
    d.set_rate("live", 0)
    assert offer(d, clock, ["a"], 20, seconds=1) == {"a": 20}
    assert d.rate("live") == 0
    d.forget("live")
    assert d.windows == {}
