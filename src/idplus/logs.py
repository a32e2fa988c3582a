"""Structured logging: one JSON object a line, carrying the request id of the request at hand."""

from __future__ import annotations

import logging
import sys

import structlog

# Field names whose values must never reach a log line.
_SECRET_FIELDS = frozenset(
    {"password", "client_secret", "code", "refresh_token", "access_token", "id_token", "otp"}
)


def _redact_secrets(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    for name in _SECRET_FIELDS.intersection(event):
        event[name] = "[redacted]"
    return event


def configure_logging(level: str = "INFO", *, json: bool = True, to_stderr: bool = False) -> None:
    """Servers log to stdout; the CLI logs to stderr, keeping stdout for its JSON answer."""
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_secrets,
    ]
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        # No file bound here: each logger writes to whatever sys.stdout is when it is made,
        # and loggers are not cached, so a redirected stdout (tests, embedding) is honoured.
        logger_factory=_StderrLoggerFactory() if to_stderr else structlog.PrintLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard library (uvicorn, alembic) go through the same renderer.
    handler = _CurrentStreamHandler(to_stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)


class _StderrLoggerFactory:
    def __call__(self, *args: object) -> structlog.PrintLogger:
        return structlog.PrintLogger(sys.stderr)


class _CurrentStreamHandler(logging.Handler):
    """Writes to whatever sys.stdout / sys.stderr is at the time (tests replace them)."""

    def __init__(self, to_stderr: bool) -> None:
        super().__init__()
        self.to_stderr = to_stderr

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stderr if self.to_stderr else sys.stdout
        try:
            stream.write(self.format(record) + "\n")
            stream.flush()
        except Exception:  # logging must never raise into the caller
            self.handleError(record)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
