"""The node's real log configuration, captured: what ``avrr serve`` and ``avrr worker`` would print.

``captured_logs`` installs ``kit.logs.configure_logging`` writing into a buffer, hands back a
``LogCapture`` to read the lines (each parsed as JSON), and puts the previous logging set-up back
afterwards, so other tests' ``caplog`` keeps working.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

from gateway.kit.logs import INFO_LOGGERS, OWN_LOGGERS, LogFormat, configure_logging


@dataclass
class LogCapture:
    buffer: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line written, parsed as JSON (a line that is not JSON fails the test)."""
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]


@contextmanager
def captured_logs(
    log_format: LogFormat = "json", level: int = logging.DEBUG
) -> Iterator[LogCapture]:
    root = logging.getLogger()
    names = (*OWN_LOGGERS, *INFO_LOGGERS, "uvicorn.access")
    saved = (
        list(root.handlers),
        root.level,
        {
            n: (
                logging.getLogger(n).level,
                list(logging.getLogger(n).handlers),
                logging.getLogger(n).propagate,
                logging.getLogger(n).disabled,
            )
            for n in names
        },
        structlog.get_config(),
    )
    capture = LogCapture()
    configure_logging(log_format, level=level, stream=capture.buffer)
    try:
        yield capture
    finally:
        handlers, level_before, loggers, config = saved
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level_before)
        for name, (lvl, hs, propagate, disabled) in loggers.items():
            logger = logging.getLogger(name)
            logger.setLevel(lvl)
            logger.handlers[:] = hs
            logger.propagate = propagate
            logger.disabled = disabled
        structlog.configure(**config)
