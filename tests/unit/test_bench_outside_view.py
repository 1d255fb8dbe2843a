"""The bench's outside view: each answered request paired with the backend request it waited for."""

from __future__ import annotations

from aicockpit.bench.replay import Sent, outside_view


def sent(at: float, latency_ms: float | None, cancelled: bool = False) -> Sent:
    return Sent("t", 1, None, at, 1, "", 0, cancelled=cancelled, latency_ms=latency_ms)


def test_requests_pair_with_the_one_backend_answer_inside_them():
    requests = [
        sent(10.000, 60.0),  # the backend read it at +2 ms and wrote at +52: overhead 60 - 50
        sent(11.000, 5.0),  # answered from the cache: no backend request inside it
        sent(12.000, 70.0),  # two backend requests inside it: no telling which was its own
        sent(13.000, 60.0, cancelled=True),
        sent(14.000, 40.0),  # the backend answer ended after the client's: not its answer
    ]
    answers = [(10.002, 10.052), (12.001, 12.030), (12.010, 12.060), (13.001, 13.050), (14.001, 14.050)]
    view = outside_view(requests, answers)
    assert view["matched_requests"] == 1
    assert round(view["server_overhead_ms"]["p50"], 6) == 10.0
    assert round(view["before_backend_read_ms"]["p50"], 6) == 2.0
    assert round(view["after_backend_wrote_ms"]["p50"], 6) == 8.0
