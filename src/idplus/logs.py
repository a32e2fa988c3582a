"""Structured logging: one JSON object a line, carrying the request id of the request at hand."""

from __future__ import annotations

import logging
import sys

import structlog

# Field names whose values must never reach a log line.
_SECRET_FIELDS = frozenset(
    {
        "password",
        "client_secret",
        "code",
        "refresh_token",
        "access_token",
        "id_token",
        "logout_token",
        "otp",
    }
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
        # The stream proxy writes to whatever sys.stdout / sys.stderr is at the time, so a
        # redirected stream (tests, embedding) is still honoured.
        logger_factory=structlog.WriteLoggerFactory(_CurrentStream(to_stderr)),  # type: ignore[arg-type]
        # Not cached: a module's logger first used under one configuration (the CLI's WARNING
        # on stderr) would keep it after another (the server's INFO on stdout) in the same
        # process. Events are rare on the hot paths, so the cost is small.
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


class _CurrentStream:
    def __init__(self, to_stderr: bool) -> None:
        self.to_stderr = to_stderr

    def write(self, text: str) -> int:
        return (sys.stderr if self.to_stderr else sys.stdout).write(text)

    def flush(self) -> None:
        (sys.stderr if self.to_stderr else sys.stdout).flush()


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
