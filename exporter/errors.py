"""The exporter's exceptions, one tree so callers catch exactly what they mean.

::

    ExporterError
    ├── ConfigError              the configuration is unusable; lists every problem
    ├── StateFileError           the state file cannot be read back
    └── LogioError               one request to the logio API failed; ``reason`` labels
        │                        cention_logio_errors_total
        ├── AuthError             401/403: token wrong, expired or lacking the claim
        ├── RateLimitedError      429, with the server's Retry-After if it sent one
        ├── ServerError           5xx
        ├── ClientError           any other 4xx, or a redirect
        ├── RequestTimeout        no complete answer within poll.timeout
        ├── NetworkError          refused, reset, DNS, TLS
        └── InvalidResponseError  an answer that is not a logio CSV/JSON body

Messages never include the token: the client builds them from the status, the
workspace and the URL path only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


class ExporterError(Exception):
    """Base of every error the exporter raises on purpose."""


class ConfigError(ExporterError):
    """The configuration has one or more problems, each naming its key.

    ``source`` is the file they are in, or None for values given on the command line.
    """

    def __init__(self, problems: Sequence[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        super().__init__("; ".join(self.problems))

    def found_in(self, source: str | os.PathLike[str]) -> ConfigError:
        """The same problems, as those of the file ``source``."""
        return ConfigError(self.problems, os.fspath(source))


class StateFileError(ExporterError):
    """The state file is corrupt, truncated or of an unknown schema version."""


class LogioError(ExporterError):
    """A logio request failed; ``reason`` is the label value for the errors counter."""

    reason = "network"


class AuthError(LogioError):
    reason = "auth"


class RateLimitedError(LogioError):
    reason = "rate_limited"

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServerError(LogioError):
    reason = "server"


class ClientError(LogioError):
    reason = "client"


class RequestTimeout(LogioError):
    reason = "timeout"


class NetworkError(LogioError):
    reason = "network"


class InvalidResponseError(LogioError):
    reason = "invalid_response"


ERROR_REASONS = tuple(
    cls.reason
    for cls in (
        AuthError,
        RateLimitedError,
        ServerError,
        ClientError,
        RequestTimeout,
        NetworkError,
        InvalidResponseError,
    )
)
