"""Test doubles for the Ray executor tests, shipped to the Ray workers by value (the workers do not
have ``tests/`` on their path): a backend recipe that builds a ``FunctionLLM`` whose reply depends
on the prompt alone and takes ``delay`` seconds."""

from __future__ import annotations

import functools
import hashlib
import time
from dataclasses import dataclass

from forage.llm.base import LLMRequest
from forage.llm.testing import FunctionLLM

WORDS = ("Paris", "the answer", "Skerry Point", "unknown", "1887")


def reply(delay: float, request: LLMRequest) -> str:
    time.sleep(delay)
    digest = hashlib.sha256(request.text_for_counting().encode()).digest()
    return WORDS[digest[0] % len(WORDS)]


@dataclass(frozen=True)
class Recipe:
    """Builds the double, in whichever process calls it."""

    delay: float = 0.0

    def __call__(self) -> FunctionLLM:
        return FunctionLLM(functools.partial(reply, self.delay), model_id="double")


def down(request: LLMRequest) -> str:
    from forage.core.errors import ConnectError

    raise ConnectError("cannot reach the model server at http://127.0.0.1:9/v1", status=None)


@dataclass(frozen=True)
class Unreachable:
    """A backend whose every call fails as an unreachable server does."""

    def __call__(self) -> FunctionLLM:
        return FunctionLLM(down, model_id="double")


@dataclass(frozen=True)
class Unloadable:
    """A backend whose weights do not load on the worker."""

    def __call__(self) -> FunctionLLM:
        from forage.core.errors import ModelLoadError

        raise ModelLoadError("no weights at /models/missing.gguf on this node")
