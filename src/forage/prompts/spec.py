"""Prompts as data: a ``PromptSpec`` is an instruction, shots, the query and generation settings.

Every prompt forage sends has one shape. A ``Block`` is a few rows (``Passage: ...``,
``Question: ...``), a cue (``Answer:``, the label the model continues) and the text after the cue.
A shot is a block whose text is its answer; the query is a block whose text is what is already
written after the cue (usually nothing). Because a shot and the query are the same type, a dev
example renders as a shot, as the query, or as a training example in exactly one format.

``Chat`` holds what only the chat renderer reads (a hint appended to the instruction, a heading
above the examples, a request line closing the user message, whether the cue is shown); ``stop``
on the spec is where a completion prompt's continuation ends, ``Chat.stop`` a chat reply's.

``titled`` is the one ``Title: text`` passage format; ``passage_text`` joins search hits with it.

Not here: turning a spec into a request (``forage.prompts.render``), what any strategy asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from forage.core.types import Hit


@dataclass(frozen=True)
class Block:
    """Rows, then a cue line: ``cue`` followed by ``text`` (an answer, or a partial one)."""

    rows: tuple[str, ...]
    cue: str = ""
    text: str = ""

    def cue_line(self) -> str:
        return " ".join(part for part in (self.cue, self.text) if part)

    def render(self) -> str:
        return "\n".join((*self.rows, self.cue_line()))

    def answered(self, target: str) -> Block:
        """This block with ``target`` written after what it already holds: the shot a model that
        continued it with ``target`` would have produced."""
        return Block(self.rows, self.cue, continue_text(self.text, target))


def continue_text(written: str, more: str) -> str:
    """``written`` continued by ``more``: a space between them unless ``written`` is empty or ends
    in white space (a finished line)."""
    if not written or written[-1].isspace():
        return written + more
    return f"{written} {more}"


@dataclass(frozen=True)
class Generation:
    """Generation settings shared by both profiles (``LLMRequest``'s fields of the same names)."""

    max_tokens: int = 24
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    logprobs: bool = False
    top_logprobs: int = 0
    grammar: str | None = None  # GBNF


@dataclass(frozen=True)
class Chat:
    """What only the chat renderer reads."""

    hint: str = ""  # appended to the instruction in the system message ("Reply with ... only.")
    heading: str = ""  # a line above the examples in the system message
    note: str = ""  # a row added to the query (context a capable model can use)
    ask: str = ""  # the user message's last paragraph: what to write now
    show_cue: bool = False  # end the query with its cue line (always when it holds text)
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None  # instead of ``Generation.max_tokens`` (e.g. JSON replies)


@dataclass(frozen=True)
class PromptSpec:
    """One prompt: ``instruction``, ``shots`` (dev exemplars), the ``query`` and its settings."""

    instruction: str
    shots: tuple[Block, ...]
    query: Block
    stop: tuple[str, ...] = ()  # where a completion prompt's continuation ends
    generation: Generation = field(default_factory=Generation)
    chat: Chat = field(default_factory=Chat)


def titled(title: str, text: str, *, unless_named: bool = False) -> str:
    """``Title: text`` (just ``text`` without a title). ``unless_named``: also just ``text`` when
    it already names the title (a sentence that names its subject)."""
    if not title or (unless_named and title.lower() in text.lower()):
        return text
    return f"{title}: {text}"


def passage_text(hits: Sequence[Hit], *, max_words: int = 120) -> str:
    """Hits joined as ``Title: text`` passages, each cut to ``max_words`` words."""
    return " ".join(
        titled(h.document.title, " ".join(h.document.text.split()[:max_words])) for h in hits
    )
