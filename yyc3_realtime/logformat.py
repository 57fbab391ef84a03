"""Log formats: JSON lines (`LOG_FORMAT=json`) for log shippers.

One object per record: time (ISO 8601 UTC), level, logger, message, the
record's `fields` as keys of their own (`realtime.activity`: event, user,
room, code, duration ...) and `exc` for a traceback. Every string that leaves
here goes through the token redaction (`yyc3_realtime.logfilters`): the
handler's filter rewrites the message, and this rewrites the fields and the
traceback, which the filter does not see.
"""

import logging
from datetime import UTC, datetime

import orjson

from yyc3_realtime.logfilters import redact

RESERVED = ("time", "level", "logger", "message", "exc")


def _clean(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """Format a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                if key not in RESERVED:
                    out[str(key)] = _clean(value)
        if record.exc_info:
            out["exc"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            out["exc"] = redact(record.exc_text)
        if record.stack_info:
            out["stack"] = redact(self.formatStack(record.stack_info))
        return orjson.dumps(out).decode()
