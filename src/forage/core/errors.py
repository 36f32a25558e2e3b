"""The one exception tree of forage.

Every error the library raises on purpose is a ``ForageError``; the CLI turns each into one clear
line and a non-zero exit. A bad model output or a tool error is *not* an exception: strategies get
it back as an observation. A bug, an exhausted budget or an unusable backend is raised.

    ForageError
    ├── ConfigError              bad arguments or settings, detected before any work starts
    ├── DataError                unreadable, malformed or empty input data (corpus, dataset)
    ├── BudgetExhausted          a call was refused because the budget cannot pay for it
    └── BackendError             an LLM backend failed
        ├── ModelLoadError       missing or corrupt weights
        ├── ContextOverflow      the prompt does not fit the context window
        └── ServerError          an HTTP backend failed (fields: status, retry_after)
            ├── ConnectError     the server could not be reached
            ├── AuthError        the API key was rejected (401/403)
            └── BadResponse      the reply was not valid JSON or was truncated
"""

from __future__ import annotations


class ForageError(Exception):
    """Base of every error forage raises on purpose."""

    def is_retryable(self) -> bool:
        return False


class ConfigError(ForageError):
    """Invalid arguments or settings."""


class DataError(ForageError):
    """Input data that cannot be used: missing, malformed or empty."""


class BudgetExhausted(ForageError):
    """The budget cannot pay for the requested call; the call was not run."""

    def __init__(self, message: str, *, counter: str = "compute") -> None:
        super().__init__(message)
        self.counter = counter


class BackendError(ForageError):
    """An LLM backend failed."""


class ModelLoadError(BackendError):
    """The model weights are missing or cannot be loaded."""


class ContextOverflow(BackendError):
    """The prompt is longer than the model's context window."""

    def __init__(self, prompt_tokens: int, context_window: int) -> None:
        super().__init__(
            f"prompt of {prompt_tokens} tokens does not fit the context window of "
            f"{context_window} tokens"
        )
        self.prompt_tokens = prompt_tokens
        self.context_window = context_window


class ServerError(BackendError):
    """An HTTP backend answered with an error status."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def is_retryable(self) -> bool:
        return self.status is None or self.status == 429 or self.status >= 500


class ConnectError(ServerError):
    """The server could not be reached (refused, DNS, timeout)."""

    def is_retryable(self) -> bool:
        return True


class AuthError(ServerError):
    """The server rejected the API key."""

    def is_retryable(self) -> bool:
        return False


class BadResponse(ServerError):
    """The server's reply was not valid JSON, or lacked required fields."""

    def is_retryable(self) -> bool:
        return False
