"""Reading Odoo-format log lines (what Odoo and the ``odoo`` double write).

A line is ``2026-11-25 10:00:00,123 4242 INFO dbname odoo.modules.loading: message``
(Odoo 16+ appends a space and ``perf_info``, empty outside HTTP requests);
the lines that follow a record without a timestamp (a traceback) belong to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LOG_LINE_RE = re.compile(
    r"^(?P<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) (?P<pid>\d+) "
    r"(?P<level>DEBUG|INFO|WARNING|ERROR|CRITICAL) (?P<db>\S+) (?P<logger>[\w.]+): "
    r"(?P<message>.*?) ?$"
)


@dataclass
class LogRecord:
    """One Odoo log record; ``extra`` holds its continuation lines (traceback)."""

    time: str
    pid: int
    level: str
    db: str
    logger: str
    message: str
    extra: list[str]

    @property
    def traceback(self) -> str:
        """The continuation lines joined (a ``Traceback (most recent call last):`` block)."""
        return "\n".join(self.extra)


def parse_log(text: str) -> list[LogRecord]:
    """Records of an Odoo log; lines before the first record are dropped."""
    records: list[LogRecord] = []
    for line in text.splitlines():
        match = LOG_LINE_RE.match(line)
        if match:
            records.append(LogRecord(
                time=match["time"], pid=int(match["pid"]), level=match["level"],
                db=match["db"], logger=match["logger"], message=match["message"], extra=[]))
        elif records:
            records[-1].extra.append(line)
    return records
