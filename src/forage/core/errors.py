"""The one exception tree of forage.

Every error the library raises on purpose is a ``ForageError``; the CLI turns each into one clear
line and a non-zero exit. A bad model output or a tool error is *not* an exception: strategies get
it back as an observation. A bug, an exhausted budget or an unusable backend is raised.

    ForageError
    ├── ConfigError              bad arguments or settings, detected before any work starts
    │   └── InvalidBudget        a budget no run can be given (field: reason)
    ├── DataError                unreadable, malformed or empty input data (corpus, dataset)
    │   └── CorruptFile          a file forage wrote earlier (journal) is damaged (field: path)
    ├── EnvironmentProblem       the user's machine refuses: read-only or full disk, not a folder
    │   └── FolderInUse          another forage process holds the output folder's lock
    ├── BudgetExhausted          a call was refused because the budget cannot pay for it
    ├── SweepFailed              some cells of a sweep raised; the rest were journaled
    ├── TrainingInterrupted      Ctrl-C during `forage train`; the last step is checkpointed
    ├── TrainingFailed           the exported adapter does not reproduce the trained model
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


class InvalidBudget(ConfigError):
    """A budget that no run may be given: not finite, below the cheapest run, above a cap.
    ``reason`` is ``not_finite``, ``below_floor`` or ``above_cap`` (a server maps it to its code)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class DataError(ForageError):
    """Input data that cannot be used: missing, malformed or empty."""


class CorruptFile(DataError):
    """A file forage wrote earlier cannot be read back (a damaged SQLite file, a bad row)."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class EnvironmentProblem(ForageError):
    """The machine refused an operation on the user's files: a read-only or full disk, a path that
    is not a folder, missing permissions. Not a bug in forage; the message says which file."""


class FolderInUse(EnvironmentProblem):
    """Another forage process holds the lock of an output folder."""


class SweepFailed(ForageError):
    """Some cells of a sweep raised; the others were journaled and reported."""


class TrainingInterrupted(ForageError):
    """Training stopped by the user (Ctrl-C); a checkpoint of the last finished step was saved
    (fields: step, total, checkpoint)."""

    def __init__(self, step: int, total: int, checkpoint: object) -> None:
        super().__init__(f"interrupted at step {step}/{total}; checkpoint in {checkpoint}")
        self.step, self.total, self.checkpoint = step, total, checkpoint


class TrainingFailed(ForageError):
    """The exported adapter fails the llama.cpp-against-torch check; its files are kept."""


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


def describe_json_error(e: ValueError) -> str:
    """A ``json.JSONDecodeError`` as "invalid JSON (<what> at column N)".

    Some of json's messages already end in "at" ("Unterminated string starting at"); those are not
    given a second one.
    """
    msg = getattr(e, "msg", str(e)).rstrip()
    col = getattr(e, "colno", None)
    if col is None:
        return f"invalid JSON ({msg})"
    joiner = " column" if msg.endswith(" at") else " at column"
    return f"invalid JSON ({msg}{joiner} {col})"
