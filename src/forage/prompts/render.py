"""One renderer per prompt profile: ``render(spec, profile) -> LLMRequest``, and training pairs.

``completion`` (tiny and base models, which only follow few-shot text): the instruction, each shot
and the query as blank-line-separated blocks; the model continues the query's cue line and stops
at ``spec.stop``. ``chat`` (capable models): a system message with the instruction, the chat hint
and the shots, and one user message with the query's rows (and its cue line when shown), then the
chat ``ask``.

``render_example(spec, target, profile)`` turns a gold answer into a training example through the
same code: its request *is* ``render(spec, profile)``, and its completion is what a model has to
write after that prompt — ``target`` in the shots' format, ended by the first stop sequence for the
completion profile, the assistant's reply for chat.

Not here: what a prompt says (the spec builders: ``reader``, ``queries``, ``verifier``, and those
next to each strategy), parsing replies (beside each builder; shared formats in ``parse``),
sending requests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from forage.core.errors import ConfigError
from forage.llm.base import LLMRequest, Message
from forage.prompts.spec import PromptSpec, continue_text

Profile = Literal["completion", "chat"]


def preamble(spec: PromptSpec) -> str:
    """What a completion prompt holds before its query: instruction and shots, each followed by a
    blank line (also the fixed start of a single-stream run)."""
    parts = ([spec.instruction] if spec.instruction else []) + [s.render() for s in spec.shots]
    return "".join(f"{p}\n\n" for p in parts)


def render_completion(spec: PromptSpec) -> LLMRequest:
    return LLMRequest(
        prompt=preamble(spec) + spec.query.render(),
        stop=spec.stop,
        **_settings(spec, spec.generation.max_tokens),
    )


def render_chat(spec: PromptSpec) -> LLMRequest:
    chat = spec.chat
    system = " ".join(p for p in (spec.instruction, chat.hint) if p)
    if spec.shots:
        heading = f"{chat.heading}\n" if chat.heading else ""
        system += "\n\n" + heading + "\n\n".join(s.render() for s in spec.shots)
    rows = [*spec.query.rows, *([chat.note] if chat.note else [])]
    if chat.show_cue or spec.query.text:
        rows.append(spec.query.cue_line())
    user = "\n".join(rows) + (f"\n\n{chat.ask}" if chat.ask else "")
    return LLMRequest(
        messages=(Message(role="system", content=system), Message(role="user", content=user)),
        stop=chat.stop,
        **_settings(spec, chat.max_tokens or spec.generation.max_tokens),
    )


def _settings(spec: PromptSpec, max_tokens: int) -> dict[str, object]:
    g = spec.generation
    return {"max_tokens": max_tokens, "temperature": g.temperature, "top_p": g.top_p,
            "seed": g.seed, "n": g.n, "logprobs": g.logprobs, "top_logprobs": g.top_logprobs,
            "grammar": g.grammar}


RENDERERS: dict[str, Callable[[PromptSpec], LLMRequest]] = {
    "completion": render_completion,
    "chat": render_chat,
}


def render(spec: PromptSpec, profile: str) -> LLMRequest:
    """The request for ``spec`` in ``profile`` (``completion`` or ``chat``)."""
    try:
        renderer = RENDERERS[profile]
    except KeyError:
        raise ConfigError(f"unknown prompt profile {profile!r}: completion or chat") from None
    return renderer(spec)


@dataclass(frozen=True)
class TrainingPair:
    """A training example: the inference ``request`` and the ``completion`` the model must write."""

    request: LLMRequest
    completion: str

    def text(self) -> str:
        """Prompt and completion as one text (completion profile)."""
        if self.request.prompt is None:
            raise ConfigError("a chat training pair has messages, not one text: use messages()")
        return self.request.prompt + self.completion

    def messages(self) -> tuple[Message, ...]:
        """The conversation with the completion as the assistant's reply (chat profile)."""
        if self.request.messages is None:
            raise ConfigError("a completion training pair has one text, not messages: use text()")
        return (*self.request.messages, Message(role="assistant", content=self.completion))


def render_example(spec: PromptSpec, target: str, profile: str) -> TrainingPair:
    """``spec``'s request in ``profile`` and ``target`` as the completion a model must produce."""
    request = render(spec, profile)
    if request.prompt is None:
        return TrainingPair(request, target)
    end = spec.stop[0] if spec.stop else ""
    written = continue_text(request.prompt, target)
    return TrainingPair(request, written[len(request.prompt):] + end)
