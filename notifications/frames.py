"""Every notification frame the server sends (`notification`,
`notification_summary`, `drama_update`); checked against the contract's schema in
tests/chat/test_protocol_frames.py."""

from datetime import datetime

from realtime.wire import frame, iso


def notification(data: dict) -> dict:
    """Return a `notification` frame; `data` from notifications.selectors."""
    return frame("notification", data)


def notification_summary(unread: int, latest_id: str | None) -> dict:
    return frame("notification_summary", {"unread": unread, "latestId": latest_id})


def drama_update(
    drama_id: str, title: str, status: str, changed: list[str], timestamp: datetime
) -> dict:
    return frame(
        "drama_update",
        {
            "dramaId": drama_id,
            "title": title,
            "status": status,
            "changed": changed,
            "timestamp": iso(timestamp),
        },
    )
