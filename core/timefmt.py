"""The one time format of the API, the events and the pages' stamps (API.md: ISO 8601, UTC, `Z`).

Microseconds are kept so that two moments never print alike and a `since` filter fed with a
printed time finds exactly what followed; DRF's `DATETIME_FORMAT` is this same format, so a
`serializers.DateTimeField` writes what `iso_utc` writes.
"""

from __future__ import annotations

from datetime import UTC, datetime

ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# What every time field of a response matches (tests use it).
ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$"


def iso_utc(moment: datetime | None) -> str | None:
    """`moment` in UTC as `2026-02-18T10:00:00.000000Z`; None stays None.

    A naive datetime is taken to be UTC already (what Django hands out with USE_TZ=False).
    """
    if moment is None:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(ISO_UTC_FORMAT)
