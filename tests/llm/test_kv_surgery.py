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

Continuations are compared logit by logit under the same tolerance, with the same tokens fed to
both streams; the greedy token must agree wherever the fresh stream's top two are further apart
than twice the tolerance (a near-tie may flip by rounding on another build).
"""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.embedded  # every test here loads SmolLM2 or Gemma

A = "Question: In which city was the architect of the Harlow Bridge born?\n"
B = (
    "Search: architect of the Harlow Bridge\n"
    "Result: The Harlow Bridge, completed in 1911, was designed by the engineer Tomas Vell, who "
    "also drew the plans for two railway stations in the northern provinces.\n"
    "Conclusion: The architect of the Harlow Bridge is Tomas Vell.\n"
)
C = "Known: the architect of the Harlow Bridge is Tomas Vell.\nNext step: find where Tomas Vell was"

# Max abs logit difference allowed after a removal; the reasons are in the module docstring.
CASES = [
    ("smollm2", 1e-3),  # full attention: re-rotated keys equal keys computed in place (0.0 here)
    ("gemma", 0.05),  # SWA + global layers, two RoPE bases: rounding (0.011 on another build)
]


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


def _greedy_steps(stream, tokens_to_feed, steps):
    """Logits before each of ``steps`` tokens; feeds ``tokens_to_feed`` (or the greedy tokens)."""
    out, fed = [], []
    for i in range(steps):
        logits = stream.logits()
        out.append(logits)
        token = tokens_to_feed[i] if tokens_to_feed else int(np.argmax(logits))
        fed.append(token)
        stream.eval([token])
    return out, fed


@pytest.mark.parametrize("model,tol", CASES)
def test_generation_continues_after_removal_as_in_a_fresh_context(request, model, tol):
    llm = request.getfixturevalue(model)
    stream = llm.token_stream()
    a, b, c = stream.tokenize(A, bos=True), stream.tokenize(B), stream.tokenize(C)
    stream.eval(a + b)
    stream.remove(len(a), len(a) + len(b))
    stream.eval(c)
    pruned, tokens = _greedy_steps(stream, None, 6)

    fresh_stream = llm.token_stream()
    fresh_stream.eval(a + c)
    fresh, _ = _greedy_steps(fresh_stream, tokens, 6)  # the same tokens, teacher-forced
    for step, (p, f) in enumerate(zip(pruned, fresh, strict=True)):
        diff = float(np.max(np.abs(p - f)))
        assert diff <= tol, f"{model}, step {step}: max abs logit difference {diff}"
        top2 = np.sort(f)[-2:]
        if top2[1] - top2[0] > 2 * tol:
            assert int(np.argmax(p)) == int(np.argmax(f)), f"{model}, step {step}"


def test_remove_rejects_spans_outside_the_stream(smollm2):
    stream = smollm2.token_stream()
    stream.eval(stream.tokenize("hello world", bos=True))
    with pytest.raises(ValueError):
        stream.remove(1, len(stream) + 1)
