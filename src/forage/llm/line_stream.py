"""Line streams for the thread strategy: one editable stream of tokens that a model writes lines into.

``LineStream`` is the small interface the thread loop drives: evaluate input tokens, choose a line
prefix among the ones the format allows, generate the rest of a line up to the line break, and cut
token spans out. Three implementations:

- ``KVLineStream`` over ``forage.llm.token_stream.TokenStream``: one llama.cpp KV sequence. The
  prefix choice is constrained decoding at line level (the model's logits decide among the allowed
  prefixes' tokens only — a tiny grammar), and ``remove`` deletes KV cells and shifts later positions.
- ``KVLineStream(..., script=[...])``: the same real KV stream, but each line's content is taken from
  a script and evaluated as if the model had written it (teacher forcing), so tests can check KV
  bookkeeping on a known trajectory with a real model.
- ``ScriptedLineStream``: no model at all; "tokens" are text pieces. For logic tests.

Not here: what the lines mean (``thread_format``) or the loop that writes them (``thread``).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from forage.core.errors import ConfigError, ContextOverflow
from forage.llm.token_stream import sample_token

if TYPE_CHECKING:
    from forage.llm.token_stream import TokenStream

NEWLINE = "\n"
ScriptItem = str | tuple[str, str]  # a whole line, or (line, finish_reason) to script a cut-off line


@dataclass(frozen=True)
class GeneratedLine:
    """What one ``generate_line`` did: the line's content (without the break), the tokens sampled,
    the tokens evaluated as input to end the line cleanly, and why it stopped."""

    content: str
    sampled: int
    extra_input: int
    finish: str  # "stop" (line break or end of sequence) or "length"


class LineStream(Protocol):
    """An editable stream of tokens. Positions are dense: ``len(stream)`` cells are in use."""

    peak_cells: int

    def __len__(self) -> int: ...

    @property
    def capacity(self) -> int: ...

    @property
    def tokens(self) -> list[Any]: ...

    def encode(self, text: str, *, bos: bool = False) -> list[Any]: ...

    def decode(self, tokens: Sequence[Any]) -> str: ...

    def eval(self, tokens: Sequence[Any]) -> None: ...

    def choose(self, options: Sequence[str], *, temperature: float, seed: int) -> int: ...

    def generate_line(self, max_tokens: int, *, temperature: float, seed: int) -> GeneratedLine: ...

    def remove(self, start: int, end: int) -> None: ...

    def keep_prefix(self, tokens: Sequence[Any]) -> int:
        """Keep the stream's first cells if they hold ``tokens`` (a prefix left by an earlier
        run), else clear it; the peak restarts from what is kept. Returns the cells kept."""
        ...


def _keep_prefix(stream: LineStream, tokens: Sequence[Any]) -> int:
    n = len(tokens)
    kept = n if n <= len(stream) and list(stream.tokens[:n]) == list(tokens) else 0
    stream.remove(kept, len(stream))
    stream.peak_cells = len(stream)
    return kept


def _pop_script(script: deque[tuple[str, str]] | None) -> tuple[str, str]:
    if not script:
        raise ConfigError("the line script ran out")
    return script[0]


def _scripted_choice(script: deque[tuple[str, str]] | None, options: Sequence[str]) -> int:
    line, _ = _pop_script(script)
    for i, option in enumerate(options):
        if line.startswith(option):
            return i
    raise ConfigError(f"scripted line {line!r} starts with none of {list(options)}")


def _normalise(items: Iterable[ScriptItem]) -> deque[tuple[str, str]]:
    return deque((i, "stop") if isinstance(i, str) else (i[0], i[1]) for i in items)


class KVLineStream:
    """A ``LineStream`` on a llama.cpp ``TokenStream`` (optionally teacher-forced from a script)."""

    def __init__(
        self, stream: TokenStream, *, capacity: int, script: Iterable[ScriptItem] | None = None
    ) -> None:
        self._ts = stream
        self._capacity = capacity
        self._script = _normalise(script) if script is not None else None
        self._chosen = ""

    @property
    def peak_cells(self) -> int:
        return self._ts.peak_cells

    @peak_cells.setter
    def peak_cells(self, value: int) -> None:
        self._ts.peak_cells = value

    def __len__(self) -> int:
        return len(self._ts)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def tokens(self) -> list[int]:
        return self._ts.tokens

    @property
    def token_stream(self) -> TokenStream:
        return self._ts

    def text(self) -> str:
        return self._ts.text()

    def encode(self, text: str, *, bos: bool = False) -> list[int]:
        return self._ts.tokenize(text, bos=bos)

    def decode(self, tokens: Sequence[int]) -> str:
        return self._ts.detokenize(tokens)

    def eval(self, tokens: Sequence[int]) -> None:
        self._ts.eval(tokens)

    def remove(self, start: int, end: int) -> None:
        self._ts.remove(start, end)

    def keep_prefix(self, tokens: Sequence[int]) -> int:
        return _keep_prefix(self, tokens)

    def choose(self, options: Sequence[str], *, temperature: float, seed: int) -> int:
        """Pick one of ``options`` (line prefixes) and evaluate its tokens. Only the options' tokens
        compete: where they diverge, the highest logit among their next tokens wins (or a sample at
        ``temperature``)."""
        if self._script is not None:
            index = _scripted_choice(self._script, options)
            self._chosen = options[index]
            self.eval(self.encode(options[index]))
            return index
        encoded = [self.encode(o) for o in options]
        alive = list(range(len(options)))
        rng = np.random.default_rng(seed)
        depth = 0
        while True:
            done = [i for i in alive if depth >= len(encoded[i])]
            if done:
                return done[0]
            if len(alive) == 1:  # the rest of a decided prefix goes in as one batch
                self.eval(encoded[alive[0]][depth:])
                return alive[0]
            nexts = sorted({encoded[i][depth] for i in alive})
            if len(nexts) == 1:
                tok = nexts[0]
            else:
                logits = self._ts.logits()[nexts].astype(np.float64)
                tok = nexts[sample_token(logits, temperature=temperature, top_p=1.0, rng=rng)]
            self.eval([tok])
            alive = [i for i in alive if encoded[i][depth] == tok]
            depth += 1

    def generate_line(self, max_tokens: int, *, temperature: float, seed: int) -> GeneratedLine:
        """Generate up to the line break. The stream then ends with exactly ``content + "\\n"``: a
        token that ran past the break is cut and the rest of the line re-evaluated as input."""
        start = len(self)
        if self._script is not None:
            line, finish = self._script.popleft()
            content = line[len(self._chosen):] if line.startswith(self._chosen) else line
            tokens = self.encode(content + NEWLINE if finish == "stop" else content)
            self.eval(tokens)
            return GeneratedLine(content.strip(), len(tokens), 0, finish)
        text, _, finish = self._ts.generate(
            max_tokens, stop=(NEWLINE,), temperature=temperature, seed=seed
        )
        generated = self.tokens[start:]
        if finish == "length":
            return GeneratedLine(text.strip(), len(generated), 0, finish)
        if self.decode(generated) == text + NEWLINE:
            return GeneratedLine(text.strip(), len(generated), 0, finish)
        keep = len(generated)
        while keep > 0 and not text.startswith(self.decode(generated[:keep])):
            keep -= 1
        self._ts.truncate(start + keep)
        rest = self.encode(text[len(self.decode(generated[:keep])):] + NEWLINE)
        self.eval(rest)
        return GeneratedLine(text.strip(), len(generated), len(rest), finish)


_PIECE = re.compile(r"\S+\s*|\s+")


class ScriptedLineStream:
    """A model-free ``LineStream`` whose lines come from a script — a list of lines, or a policy
    called with the prefixes offered that returns the next line; tokens are whitespace-separated
    pieces of text (``"".join(tokens) == text``). For logic tests only, never for measuring."""

    def __init__(
        self,
        script: Iterable[ScriptItem] | Callable[[Sequence[str]], ScriptItem],
        *,
        capacity: int = 100_000,
    ) -> None:
        self._policy = script if callable(script) else None
        self._script = _normalise([] if callable(script) else script)
        self._tokens: list[str] = []
        self._capacity = capacity
        self._chosen = ""
        self.peak_cells = 0
        self.evaluated = 0
        self.offered: list[tuple[str, ...]] = []  # the prefixes each choice was offered

    def __len__(self) -> int:
        return len(self._tokens)

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def tokens(self) -> list[str]:
        return list(self._tokens)

    def text(self) -> str:
        return "".join(self._tokens)

    @property
    def remaining(self) -> int:
        return len(self._script)

    def encode(self, text: str, *, bos: bool = False) -> list[str]:
        return _PIECE.findall(text)

    def decode(self, tokens: Sequence[str]) -> str:
        return "".join(tokens)

    def eval(self, tokens: Sequence[str]) -> None:
        if len(self._tokens) + len(tokens) > self._capacity:
            raise ContextOverflow(len(self._tokens) + len(tokens), self._capacity)
        self._tokens.extend(tokens)
        self.evaluated += len(tokens)
        self.peak_cells = max(self.peak_cells, len(self._tokens))

    def remove(self, start: int, end: int) -> None:
        if not 0 <= start <= end <= len(self._tokens):
            raise ValueError(f"bad span [{start}, {end}) of a {len(self._tokens)}-token stream")
        del self._tokens[start:end]

    def keep_prefix(self, tokens: Sequence[str]) -> int:
        return _keep_prefix(self, tokens)

    def choose(self, options: Sequence[str], *, temperature: float, seed: int) -> int:
        self.offered.append(tuple(options))
        if self._policy is not None:
            self._script.append(_normalise([self._policy(options)])[0])
        index = _scripted_choice(self._script, options)
        self._chosen = options[index]
        self.eval(self.encode(options[index]))
        return index

    def generate_line(self, max_tokens: int, *, temperature: float, seed: int) -> GeneratedLine:
        if self._policy is not None and not self._script:
            self._script.append(_normalise([self._policy(())])[0])
        line, finish = _pop_script(self._script)
        self._script.popleft()
        content = line[len(self._chosen):] if line.startswith(self._chosen) else line
        tokens = self.encode(content + NEWLINE if finish == "stop" else content)
        if len(tokens) > max_tokens:  # a model stops at max_tokens, whatever it meant to write
            tokens, finish = tokens[:max_tokens], "length"
            content = "".join(tokens)
        self.eval(tokens)
        return GeneratedLine(content.strip(), len(tokens), 0, finish)


__all__ = ["GeneratedLine", "KVLineStream", "LineStream", "ScriptItem", "ScriptedLineStream"]
