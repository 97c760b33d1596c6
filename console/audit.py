"""Every read and action of the console leaves its access event before its answer leaves.

Why through `run_logged`: it is the command line's guarantee, unchanged. The trail is checked
first (a read-only or refusing archive refuses the request before anything is read), the page
is produced in memory, its event (the console user as actor, the route, the client's address,
the arguments, the rows) is stored, and only then is the page handed to the browser. When the
event cannot be stored the request ends with 503 and no byte of the page (`AccessTrailError`,
turned into the refusal page by `routing`).

An action (a decision, a hold, a claim) is recorded the other way round (`recorded`): its event
first, then the action, so nothing is changed in the archive's name that the trail does not
show; a failure of the action afterwards is a second event naming the first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from console.state import Console
from pipelines.query.access_logged import query_fields, run_logged
from pipelines.ringcentral.redaction import redact

T = TypeVar("T")


def logged(
    console: Console,
    user: str,
    command: str,
    arguments: Mapping[str, Any],
    work: Callable[[], tuple[T, Mapping[str, Any]]],
    *,
    route: str,
    client: str,
    query_name: str | None = None,
) -> T:
    """Run `work` (-> result, outcome fields such as `rows`) as one access event of `user`,
    stored before the result is returned. A failure of `work` is stored as a failed event and
    raised again."""
    details = {
        "arguments": dict(arguments),
        "console": {"route": route, "client": client},
        **query_fields(None, dict(arguments), query_name or f"console {command}"),
    }
    produced: list[T] = []

    def run() -> tuple[str, Mapping[str, Any]]:
        result, outcome = work()
        produced.append(result)
        return "", outcome

    run_logged(console.trail_for(user), command, details, run)
    return produced[0]


def recorded(
    console: Console,
    user: str,
    command: str,
    arguments: Mapping[str, Any],
    action: Callable[[], T],
    *,
    route: str,
    client: str,
) -> T:
    """Do `action` (a decision, a hold, a claim: something the console writes) after its
    access event is stored: an action the trail cannot record is never done. When the action
    then fails, a second event records the failure and names the first (`started_key`), and
    the error is raised again."""
    details = {
        "arguments": dict(arguments),
        "console": {"route": route, "client": client},
        **query_fields(None, dict(arguments), f"console {command}"),
    }
    trail = console.trail_for(user)
    trail.prepare()
    started = trail.append({**details, "command": command, "status": "ok", "error": None})
    try:
        return action()
    except BaseException as error:
        first = (str(error).strip().splitlines() or [type(error).__name__])[0]
        trail.append(
            {
                **details,
                "command": command,
                "status": "failed",
                "error": redact(f"{type(error).__name__}: {first}")[:2000],
                "started_key": started.key,
            }
        )
        raise
