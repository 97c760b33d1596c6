"""RingCentral webhooks: a receiver that logs every notification write-once in the archive,
the subscription that makes RingCentral send them, and the planning behind the sensor that
turns logged events into archive runs (docs/webhooks.md)."""
