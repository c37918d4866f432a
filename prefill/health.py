"""Circuit breakers and counters per registry, so a registry that is down is not hammered.

The state is process-local by decision: each web process learns on its own that a registry
is down, after `circuit_failures` failed reads. Sharing it (e.g. through the database) would
put a write on every read path for little gain, since each process needs only a few failed
reads to open its own circuit. The AppContext holds one `RegistryHealth`; nothing is global.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from prefill.connectors.base import ConnectorConfig

CircuitState = Literal["closed", "open", "half_open"]


@dataclass
class CircuitBreaker:
    """Closed: reads pass. Open after n failures in a row: reads are refused for a while.
    Half-open afterwards: one probe passes; its success closes the circuit, a failure re-opens."""

    failure_threshold: int
    open_s: float
    clock: Callable[[], float] = time.monotonic
    state: CircuitState = "closed"
    consecutive_failures: int = 0
    opened_at: float = 0.0
    probe_in_flight: bool = False

    def allow(self) -> bool:
        """Whether a read may go out now; in half-open state only one probe at a time."""
        if self.state == "open":
            if self.clock() - self.opened_at < self.open_s:
                return False
            self.state = "half_open"
            self.probe_in_flight = False
        if self.state == "half_open":
            if self.probe_in_flight:
                return False
            self.probe_in_flight = True
        return True

    def abandon(self) -> None:
        """A read that was allowed never finished (cancelled): free the probe, count nothing."""
        self.probe_in_flight = False

    def record(self, *, success: bool) -> None:
        """Count the outcome of a read that was allowed."""
        self.probe_in_flight = False
        if success:
            self.state = "closed"
            self.consecutive_failures = 0
            return
        self.consecutive_failures += 1
        if self.state == "half_open" or self.consecutive_failures >= self.failure_threshold:
            self.state = "open"
            self.opened_at = self.clock()


@dataclass
class RegistryCounters:
    """What operations wants to know about one registry since the process started."""

    reads: int = 0
    failed: int = 0
    refused_by_circuit: int = 0


@dataclass
class RegistryHealth:
    """One breaker and one set of counters per registry id, for one process."""

    clock: Callable[[], float] = time.monotonic
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)
    _counters: dict[str, RegistryCounters] = field(default_factory=dict)
    # Prefill may run on more than one event loop (web requests, worker threads) at once.
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _breaker(self, registry: str, config: ConnectorConfig) -> CircuitBreaker:
        breaker = self._breakers.get(registry)
        if breaker is None:
            breaker = CircuitBreaker(
                failure_threshold=config.circuit_failures,
                open_s=config.circuit_open_s,
                clock=self.clock,
            )
            self._breakers[registry] = breaker
        return breaker

    def allow(self, registry: str, config: ConnectorConfig) -> bool:
        """Whether a read of this registry may go out; counts the refusals."""
        with self._lock:
            allowed = self._breaker(registry, config).allow()
            if not allowed:
                self._counters.setdefault(registry, RegistryCounters()).refused_by_circuit += 1
            return allowed

    def record(self, registry: str, config: ConnectorConfig, *, success: bool) -> None:
        """Count a finished read and move the registry's breaker."""
        with self._lock:
            self._breaker(registry, config).record(success=success)
            counters = self._counters.setdefault(registry, RegistryCounters())
            counters.reads += 1
            if not success:
                counters.failed += 1

    def abandon(self, registry: str, config: ConnectorConfig) -> None:
        """A read that was allowed was cancelled before it finished."""
        with self._lock:
            self._breaker(registry, config).abandon()

    def state(self, registry: str) -> CircuitState:
        with self._lock:
            breaker = self._breakers.get(registry)
            return breaker.state if breaker else "closed"

    def snapshot(self) -> dict[str, dict[str, object]]:
        """Per registry: circuit state and counters, for a health or metrics endpoint."""
        with self._lock:
            names = sorted(set(self._breakers) | set(self._counters))
            return {
                name: {
                    "circuit": self._breakers[name].state if name in self._breakers else "closed",
                    **vars(self._counters.get(name, RegistryCounters())),
                }
                for name in names
            }
