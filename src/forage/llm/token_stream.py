"""A token stream over one llama.cpp KV sequence: evaluate, sample, and cut finished spans out.

This is the low-level runtime the single-stream (TIMRUN-style) engine builds on. The stream keeps
the list of tokens that are in the KV cache, in position order. ``remove(start, end)`` deletes the
cells of positions ``[start, end)`` with ``llama_memory_seq_rm`` and shifts every later cell left
with ``llama_memory_seq_add`` (llama.cpp re-applies RoPE to shifted cells), so the model continues
as if the removed span had never been there: evaluate A+B, remove B, evaluate C, and the next-token
logits match those of a fresh A+C.

Not here: prompts, grammars, or which spans to prune (that is the engine's decision).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from forage.core.errors import ContextOverflow

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger(__name__)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - np.max(logits)
    return shifted - np.log(np.sum(np.exp(shifted)))


def sample_token(
    logits: np.ndarray, *, temperature: float, top_p: float, rng: np.random.Generator
) -> int:
    """Greedy at temperature 0; otherwise nucleus sampling at ``temperature``."""
    if temperature <= 0:
        return int(np.argmax(logits))
    logp = log_softmax(logits.astype(np.float64) / temperature)
    probs = np.exp(logp)
    if top_p < 1.0:
        order = np.argsort(-probs)
        cum = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cum, top_p)) + 1]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask / mask.sum()
    return int(rng.choice(len(probs), p=probs))


class TokenStream:
    """Exclusive use of a loaded ``llama_cpp.Llama``'s sequence 0 as an editable token stream.

    The stream starts empty (the context is cleared) unless ``clear=False``, when it continues on
    what the model last evaluated. Positions are dense: after ``remove`` the
    later tokens occupy the freed positions, so ``len(stream)`` is both the number of KV cells in
    use and the next position.
    """

    def __init__(self, llama: Llama, *, clear: bool = True) -> None:
        self._llama = llama
        self._n_ctx = llama.n_ctx()
        self._n_vocab = llama.n_vocab()
        if clear:
            llama.reset()
            llama._ctx.kv_cache_seq_rm(-1, 0, -1)
        self.peak_cells = len(self)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def tokens(self) -> list[int]:
        return [int(t) for t in self._llama.input_ids[: self._llama.n_tokens]]

    def __len__(self) -> int:
        return int(self._llama.n_tokens)

    def tokenize(self, text: str, *, bos: bool = False) -> list[int]:
        return list(self._llama.tokenize(text.encode("utf-8"), add_bos=bos, special=True))

    def detokenize(self, tokens: Sequence[int]) -> str:
        return self._llama.detokenize(list(tokens)).decode("utf-8", errors="replace")

    def text(self) -> str:
        return self.detokenize(self.tokens)

    def logits(self) -> np.ndarray:
        """Next-token logits after the last evaluated token (a copy)."""
        if len(self) == 0:
            raise ValueError("nothing evaluated yet")
        ptr = self._llama._ctx.get_logits_ith(-1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    # -- writing ---------------------------------------------------------------------------------

    def eval(self, tokens: Sequence[int]) -> None:
        """Append ``tokens`` at the end of the stream."""
        if not tokens:
            return
        if len(self) + len(tokens) > self._n_ctx:
            raise ContextOverflow(len(self) + len(tokens), self._n_ctx)
        self._llama.eval(list(tokens))
        self.peak_cells = max(self.peak_cells, len(self))

    def remove(self, start: int, end: int) -> None:
        """Remove positions ``[start, end)`` from the KV cache and shift later positions left."""
        n = len(self)
        if not 0 <= start <= end <= n:
            raise ValueError(f"bad span [{start}, {end}) of a {n}-token stream")
        if start == end:
            return
        ctx = self._llama._ctx
        if not ctx.kv_cache_seq_rm(0, start, end):
            raise RuntimeError("llama.cpp refused to remove a partial sequence from this cache")
        width = end - start
        ctx.kv_cache_seq_shift(0, end, -1, -width)
        ids = self._llama.input_ids
        ids[start : n - width] = ids[end:n].copy()
        self._llama.n_tokens = n - width

    def truncate(self, length: int) -> None:
        """Drop everything from position ``length`` on."""
        self.remove(length, len(self))

    def generate(
        self,
        max_tokens: int,
        *,
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        top_p: float = 1.0,
        seed: int = 0,
        eos: bool = True,
        top: int = 0,
        tops: list[tuple[tuple[str, float], ...]] | None = None,
    ) -> tuple[str, list[float], str]:
        """Sample up to ``max_tokens`` tokens onto the stream.

        Returns ``(text, token_logprobs, finish_reason)``. A stop string ends generation; the
        stream keeps the tokens up to and including the one that completed the stop string (the
        caller may ``truncate``), and the returned text is cut before the stop string. With
        ``top`` > 0, the ``top`` most likely (token text, logprob) at each position are appended
        to ``tops``.
        """
        rng = np.random.default_rng(seed)
        eos_id = self._llama.token_eos()
        out: list[int] = []
        logprobs: list[float] = []
        text = ""
        for _ in range(max_tokens):
            if len(self) >= self._n_ctx:
                return text, logprobs, "length"
            logits = self.logits()
            tok = sample_token(logits, temperature=temperature, top_p=top_p, rng=rng)
            lp = log_softmax(logits.astype(np.float64))
            logprobs.append(float(lp[tok]))
            if top and tops is not None:
                best = np.argpartition(-lp, top)[:top]
                best = best[np.argsort(-lp[best])]
                tops.append(tuple((self.detokenize([int(i)]), float(lp[i])) for i in best))
            if eos and tok == eos_id:
                return text, logprobs, "stop"
            self.eval([tok])
            out.append(tok)
            text = self.detokenize(out)
            for s in stop:
                if s and s in text:
                    return text[: text.index(s)], logprobs, "stop"
        return text, logprobs, "length"
