"""Reading the short formats the prompts ask for out of a model's reply.

``clean_answer`` (the first line, without an ``Answer:`` prefix, quotes or a final full stop),
``answer_after`` (the answer after the last ``So the (final) answer is:``, the marker chain-of-
thought prompts end with): the formats several prompts share.

Not here: a format that one prompt owns is parsed beside that prompt — search queries
(``queries``), verdicts (``verifier``), ReAct actions, Self-Ask continuations, IRCoT's next
sentence, the single-stream lines.
"""

from __future__ import annotations

import re

ANSWER_MARKER = "So the answer is:"

_ANSWER_PREFIX = re.compile(r"^\s*(answer\s*:\s*)", re.IGNORECASE)
_FINAL = re.compile(r"so\s+the\s+(?:final\s+)?answer\s+is\s*:?", re.IGNORECASE)


def clean_answer(text: str) -> str:
    """The first line of a reply, without an ``Answer:`` prefix, quotes or a final full stop."""
    line = text.strip().split("\n", 1)[0]
    line = _ANSWER_PREFIX.sub("", line).strip().strip('"').strip()
    return line[:-1].strip() if line.endswith(".") else line


def answer_after(text: str) -> str | None:
    """The answer after the last ``So the (final) answer is:`` in ``text``; ``None`` if absent."""
    matches = list(_FINAL.finditer(text))
    if not matches:
        return None
    return clean_answer(text[matches[-1].end():])
