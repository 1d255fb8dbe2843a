from aicockpit.engine.breaker import BreakerState, CircuitBreaker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_opens_after_consecutive_failures_only():
    breaker = CircuitBreaker(3, 10, Clock())
    breaker.failure("a")
    breaker.failure("b")
    breaker.success()  # resets the run
    breaker.failure("c")
    breaker.failure("d")
    assert breaker.state is BreakerState.CLOSED and breaker.allow()
    breaker.failure("e")
    assert breaker.state is BreakerState.OPEN and not breaker.allow()
    assert breaker.status()["last_error"] == "e" and breaker.status()["times_opened"] == 1


def test_one_probe_after_the_cooldown_then_closes_or_reopens():
    clock = Clock()
    breaker = CircuitBreaker(1, 10, clock)
    breaker.failure("down")
    clock.now += 9
    assert not breaker.allow()
    clock.now += 1
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.allow() and not breaker.allow()  # a single probe at a time
    breaker.failure("still down")
    assert breaker.state is BreakerState.OPEN and breaker.times_opened == 2
    clock.now += 10
    assert breaker.allow()
    breaker.success()
    assert breaker.state is BreakerState.CLOSED and breaker.allow() and breaker.allow()


def test_a_cancelled_probe_lets_the_next_request_probe():
    clock = Clock()
    breaker = CircuitBreaker(1, 1, clock)
    breaker.failure("x")
    clock.now += 1
    assert breaker.allow()
    breaker.release()
    assert breaker.allow()
