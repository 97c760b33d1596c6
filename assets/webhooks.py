"""Keeps the webhook subscription alive: a thin schedule and a one-op job.

The schedule asks the API for the subscription's state (one Light GET) and launches the job
only when `decide` says create, renew or re-create (a Blacklisted or expired subscription is
re-created); the job's op calls `ensure_subscription`, which decides again and acts. With
RC_WEBHOOK_ADDRESS unset the schedule skips: webhooks are optional, the 15-minute archive
schedule works without them.
"""

import os
from datetime import UTC, datetime

import dagster as dg

from assets.resources import ArchiveResource, RingCentralResource
from pipelines import settings as names
from pipelines.settings import Settings
from pipelines.webhooks.subscription import NONE, current_subscription, decide, ensure_subscription


def _address() -> str:
    return Settings.from_env(os.environ).webhook_address or ""


@dg.op(description="Create, renew or re-create the webhook subscription (RC_WEBHOOK_ADDRESS).")
def ensure_webhook_subscription(
    context: dg.OpExecutionContext, ringcentral: RingCentralResource, archive: ArchiveResource
) -> None:
    with ringcentral.client() as client:
        result = ensure_subscription(
            client,
            archive.store(),
            address=_address(),
            verification_token=os.environ.get(names.RC_WEBHOOK_VERIFICATION_TOKEN, ""),
        )
    subscription = result.subscription or {}
    context.log.info(
        f"webhook subscription: {result.action} ({result.reason}); id {subscription.get('id')}, "
        f"status {subscription.get('status')}, expires {subscription.get('expirationTime')}"
    )


@dg.job(description="Keep the RingCentral webhook subscription active (docs/webhooks.md).")
def webhook_subscription_job():
    ensure_webhook_subscription()


@dg.schedule(
    job=webhook_subscription_job,
    cron_schedule=Settings.from_env(os.environ).webhook_subscription_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Renews the webhook subscription before it expires; re-creates a Blacklisted "
    "or expired one. Skips when RC_WEBHOOK_ADDRESS is unset.",
)
def webhook_subscription_schedule(
    context: dg.ScheduleEvaluationContext,
    ringcentral: RingCentralResource,
    archive: ArchiveResource,
):
    address = _address()
    if not address:
        return dg.SkipReason(f"{names.RC_WEBHOOK_ADDRESS} is not set: webhooks are off")
    now = (context.scheduled_execution_time or datetime.now(UTC)).astimezone(UTC)
    with ringcentral.client() as client:
        _, current = current_subscription(client, archive.store())
    decision = decide(current, now=now, address=address)
    if decision.action == NONE:
        return dg.SkipReason(decision.reason)
    return dg.RunRequest(
        run_key=f"{now.isoformat()}:{decision.action}",
        tags={"rc-archive/subscription": decision.action},
    )
