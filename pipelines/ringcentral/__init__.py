"""The RingCentral Social Messaging client: settings, auth, rate limits, retries, typed errors."""

from pipelines.ringcentral import errors
from pipelines.ringcentral.client import RingCentralClient
from pipelines.ringcentral.config import ClientSettings
from pipelines.ringcentral.paging import Page
from pipelines.ringcentral.stats import ClientStats

__all__ = ["ClientSettings", "ClientStats", "Page", "RingCentralClient", "errors"]
