"""The limiter's arithmetic, on a simulated clock (pure logic; the HTTP behaviour is proven
against the sandbox in test_rate_limits.py)."""

from __future__ import annotations

from pipelines.ringcentral.ratelimit import RateLimiter, limiter_for


class SimulatedClock:
    """Time that only moves when the limiter sleeps, so schedules are exact and instant."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _send_times(limiter: RateLimiter, clock: SimulatedClock, count: int) -> list[float]:
    times = []
    for _ in range(count):
        limiter.acquire()
        times.append(clock.now)
    return times


def _max_in_any_window(times: list[float], window: float) -> int:
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_never_more_than_limit_in_any_window_and_paced_evenly() -> None:
    clock = SimulatedClock()
    limiter = RateLimiter("Light", 50, 60.0, clock=clock, sleep=clock.sleep)
    times = _send_times(limiter, clock, 150)
    assert _max_in_any_window(times, 60.0) <= 50
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) > 1.2 and max(gaps) < 1.3  # even pacing, 2% safety margin
    assert times[-1] - times[0] < 149 * 1.2 * 1.03  # close to the floor


def test_headers_resize_the_budget() -> None:
    clock = SimulatedClock()
    limiter = RateLimiter("Light", 50, 60.0, clock=clock, sleep=clock.sleep)
    limiter.update_from_headers(
        {"x-rate-limit-limit": "20", "x-rate-limit-window": "2", "x-rate-limit-remaining": "19"}
    )
    times = _send_times(limiter, clock, 60)
    assert _max_in_any_window(times, 2.0) <= 20
    assert times[-1] - times[0] < 6.3


def test_remaining_lower_than_ours_shrinks_the_budget() -> None:
    """Another process with the same app+user used the budget: follow the server's count."""
    clock = SimulatedClock()
    limiter = RateLimiter("Light", 10, 10.0, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.update_from_headers({"x-rate-limit-remaining": "0"})
    assert not limiter.try_acquire()
    waited = limiter.acquire()
    assert waited > 9.0


def test_block_for_holds_every_caller() -> None:
    clock = SimulatedClock()
    limiter = RateLimiter("Light", 100, 1.0, clock=clock, sleep=clock.sleep)
    limiter.block_for(5.0)
    assert not limiter.try_acquire()
    assert limiter.acquire() >= 5.0


def test_registry_shares_one_limiter_per_server_app_and_group() -> None:
    first = limiter_for("http://h:1", "app", "Light")
    assert limiter_for("http://h:1/", "app", "Light") is first
    assert limiter_for("http://h:1", "app", "Auth") is not first
    assert limiter_for("http://h:1", "other-app", "Light") is not first
    assert limiter_for("http://h:1", "app", "Auth").limit == 5


def test_auth_group_allows_a_burst_within_its_limit() -> None:
    """Login then refresh or re-login should not wait 12 s when the window has room."""
    clock = SimulatedClock()
    limiter = RateLimiter("Auth", 5, 60.0, paced=False, clock=clock, sleep=clock.sleep)
    times = _send_times(limiter, clock, 6)
    assert times[:5] == [times[0]] * 5
    assert times[5] - times[0] > 60.0
