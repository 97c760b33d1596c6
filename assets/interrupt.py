"""How a stop request (Ctrl-C, SIGTERM, a run cancelled in the UI) reaches the steps of an
in-process Dagster run, and how it ends one: at a batch boundary, never retried.

How Dagster stops a run in-process: cancelling a run in the UI makes the run worker send itself
SIGINT (a Kubernetes pod gets SIGTERM, which Dagster maps to the same handler). Between steps,
Dagster's handler only records it, and the next step fails as interrupted before its code
starts: the run ends (CANCELED when the UI asked, else failed). Inside a step's code, Dagster's
handler raises at whatever line is running, and a step with a retry policy (every API asset)
turns that into a retry: the operator's run that was retried after SIGTERM and ended "ok".

So inside an API asset (`stopping_at_batch_boundaries`, entered by `failing_fast_for_people`)
the signal sets the stop flag of pipelines/interrupts.py instead; the loops stop at their next
boundary, the asset fails with `allow_retries=False`, and on its way out the step tells Dagster
what its own handler would have recorded, so the next step ends the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from pipelines.interrupts import raise_if_stopped, stop_on_signals, stop_requested


@contextmanager
def stopping_at_batch_boundaries() -> Iterator[None]:
    """Signals set the stop flag while inside; raises `StopRequested` at once when a stop was
    requested before the step started."""
    raise_if_stopped("before the step started")
    try:
        with stop_on_signals():
            yield
    finally:
        if stop_requested():
            end_run_at_next_step()


def end_run_at_next_step() -> None:
    """Record an interrupt the way Dagster's own handler does between steps: the next step of
    the run fails as interrupted before it starts, and the run ends. (Dagster keeps that record
    in `dagster._utils.interrupts`; the release is pinned, and tests/e2e/test_interrupts.py
    shows a run stop this way.)"""
    from dagster._utils import interrupts

    interrupts._received_interrupt["received"] = True  # noqa: SLF001
