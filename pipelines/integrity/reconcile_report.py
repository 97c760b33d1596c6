"""What a reconciliation against the API found: the facts a certificate certifies.

Here, not beside the sync that fills it (sync/reconcile.py), because certificates sit below the
syncs: they sign what a reconciliation reports and need nothing else of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ReconcileReport:
    source_id: str
    mode: str
    api_ids_checked: int = 0
    # Archived ids read for the comparison: in sample mode, only those of the files that can
    # hold the sampled (newest) contents.
    archived_ids: int = 0
    missing: list[str] = field(default_factory=list)
    not_due: int = 0
    high_water_time: str | None = None
    incomplete: str | None = None
    # Ids the archive held when the listing began that the finished listing does not show
    # (in sample mode: among those created after the oldest content listed), sorted: messages
    # RingCentral never had. Empty when the listing did not finish.
    not_in_api: list[str] = field(default_factory=list)
    # Listed ids that a disposition removed from the archive (counted as archived).
    disposed: int = 0

    @property
    def ok(self) -> bool:
        """Proven complete and genuine: nothing missing among the ids checked, nothing
        archived that the API does not list, and the listing finished."""
        return not self.missing and not self.not_in_api and self.incomplete is None
