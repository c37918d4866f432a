"""The circuit breaker per registry: closed, open after failures, one probe when half-open."""

from __future__ import annotations

from prefill.connectors.base import ConnectorConfig
from prefill.health import CircuitBreaker, RegistryHealth

CONFIG = ConnectorConfig(base_url="http://r.test", circuit_failures=3, circuit_open_s=30.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(failure_threshold=3, open_s=30.0, clock=clock)


def test_opens_after_the_threshold_of_failures_in_a_row() -> None:
    b = breaker(Clock())
    for _ in range(2):
        assert b.allow()
        b.record(success=False)
    assert str(b.state) == "closed"
    assert b.allow()
    b.record(success=False)
    assert str(b.state) == "open"
    assert not b.allow()


def test_a_success_resets_the_count() -> None:
    b = breaker(Clock())
    for success in (False, False, True, False, False):
        assert b.allow()
        b.record(success=success)
    assert str(b.state) == "closed"


def test_after_the_open_period_exactly_one_probe_goes_out() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.allow()
        b.record(success=False)
    clock.now += 29.9
    assert not b.allow()
    clock.now += 0.2
    assert b.allow()
    assert b.state == "half_open"
    assert not b.allow(), "a second read must wait for the probe's outcome"


def test_a_successful_probe_closes_a_failed_one_reopens() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.allow()
        b.record(success=False)
    clock.now += 31
    assert b.allow()
    b.record(success=False)
    assert str(b.state) == "open"
    assert not b.allow()
    clock.now += 31
    assert b.allow()
    b.record(success=True)
    assert str(b.state) == "closed"
    assert b.allow() and b.allow()


def test_an_abandoned_probe_lets_the_next_read_probe() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(3):
        b.allow()
        b.record(success=False)
    clock.now += 31
    assert b.allow()
    b.abandon()
    assert b.allow()


def test_registry_health_keeps_one_breaker_and_counters_per_registry() -> None:
    clock = Clock()
    health = RegistryHealth(clock=clock)
    for _ in range(3):
        assert health.allow("kfz", CONFIG)
        health.record("kfz", CONFIG, success=False)
    assert health.allow("melderegister", CONFIG)
    health.record("melderegister", CONFIG, success=True)
    assert not health.allow("kfz", CONFIG)

    assert health.state("kfz") == "open"
    assert health.state("melderegister") == "closed"
    assert health.state("never-read") == "closed"
    assert health.snapshot() == {
        "kfz": {"circuit": "open", "reads": 3, "failed": 3, "refused_by_circuit": 1},
        "melderegister": {"circuit": "closed", "reads": 1, "failed": 0, "refused_by_circuit": 0},
    }


def test_two_health_objects_share_nothing() -> None:
    """Process-local by decision, but never module-global: each AppContext has its own."""
    first, second = RegistryHealth(), RegistryHealth()
    for _ in range(3):
        first.allow("kfz", CONFIG)
        first.record("kfz", CONFIG, success=False)
    assert first.state("kfz") == "open"
    assert second.allow("kfz", CONFIG)
