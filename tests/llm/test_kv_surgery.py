"""Removing a finished span from the KV cache leaves the model exactly where a fresh A+C would be.

Evaluate A+B, remove B (later positions shift left, llama.cpp re-applies RoPE), evaluate C: the
next-token logits must match a fresh evaluation of A+C, for both embedded weights.

Tolerances (max abs difference of the logits, which range over about +-30):
- SmolLM2-135M: 1e-3. Full attention; shifted cells get their keys re-rotated, which with this
  build's cells is bit-identical to computing them at the final position (measured here: 0.0).
- Gemma-3-270M: 0.05. It mixes sliding-window and global attention layers with two RoPE bases;
  re-rotating cached keys in reduced precision may differ from keys computed at their final
  position by rounding (measured here: 0.0 with a full-size SWA cache, ``swa_full=True``, which
  the backend sets; 0.011 was reported on another build). The same top token is required either way.
A negative control checks that *not* removing B changes the logits by far more than the tolerance,
so the comparison can fail.
"""

from __future__ import annotations

import numpy as np
import pytest

A = "Question: In which city was the architect of the Harlow Bridge born?\n"
B = (
    "Search: architect of the Harlow Bridge\n"
    "Result: The Harlow Bridge, completed in 1911, was designed by the engineer Tomas Vell, who "
    "also drew the plans for two railway stations in the northern provinces.\n"
    "Conclusion: The architect of the Harlow Bridge is Tomas Vell.\n"
)
C = "Known: the architect of the Harlow Bridge is Tomas Vell.\nNext step: find where Tomas Vell was"

CASES = [("smollm2", 1e-3), ("gemma", 0.05)]


def _logits_after(llm, pieces, remove_index=None):
    stream = llm.token_stream()
    spans = []
    for i, text in enumerate(pieces):
        tokens = stream.tokenize(text, bos=(i == 0))
        start = len(stream)
        stream.eval(tokens)
        spans.append((start, len(stream)))
        if remove_index is not None and i == remove_index:
            stream.remove(*spans[i])
    return stream.logits(), stream


@pytest.mark.parametrize("model,tol", CASES)
def test_removing_a_span_matches_a_fresh_context(request, model, tol):
    llm = request.getfixturevalue(model)
    stream = llm.token_stream()
    a = stream.tokenize(A, bos=True)
    b = stream.tokenize(B)
    c = stream.tokenize(C)

    stream.eval(a + b)
    stream.remove(len(a), len(a) + len(b))
    assert len(stream) == len(a)
    stream.eval(c)
    pruned = stream.logits()
    assert stream.tokens == a + c

    fresh_stream = llm.token_stream()
    fresh_stream.eval(a + c)
    fresh = fresh_stream.logits()

    full_stream = llm.token_stream()
    full_stream.eval(a + b + c)
    unpruned = full_stream.logits()

    diff = float(np.max(np.abs(pruned - fresh)))
    control = float(np.max(np.abs(unpruned - fresh)))
    assert diff <= tol, f"{model}: max abs logit difference {diff}"
    assert int(np.argmax(pruned)) == int(np.argmax(fresh))
    assert control > 10 * tol, f"{model}: the removed span should matter ({control})"


@pytest.mark.parametrize("model", ["smollm2", "gemma"])
def test_generation_continues_after_removal_as_in_a_fresh_context(request, model):
    llm = request.getfixturevalue(model)
    stream = llm.token_stream()
    a, b, c = stream.tokenize(A, bos=True), stream.tokenize(B), stream.tokenize(C)
    stream.eval(a + b)
    stream.remove(len(a), len(a) + len(b))
    stream.eval(c)
    pruned_text, _, _ = stream.generate(6)

    fresh = llm.token_stream()
    fresh.eval(a + c)
    fresh_text, _, _ = fresh.generate(6)
    assert pruned_text == fresh_text


def test_remove_rejects_spans_outside_the_stream(smollm2):
    stream = smollm2.token_stream()
    stream.eval(stream.tokenize("hello world", bos=True))
    with pytest.raises(ValueError):
        stream.remove(1, len(stream) + 1)
