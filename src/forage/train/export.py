"""The trained LoRA as a llama.cpp adapter, its manifest, and the check that llama.cpp agrees.

``write_adapter(model, path)`` writes the *unmerged* LoRA of a peft model as a GGUF adapter with
the ``gguf`` package, in the layout of llama.cpp's ``convert_lora_to_gguf.py``: for every adapted
base tensor ``blk.N.<name>.weight`` two tensors ``.lora_a`` (rank x in) and ``.lora_b`` (out x
rank), metadata ``general.type=adapter``, ``adapter.type=lora``, ``adapter.lora.alpha``. Llama
GGUF files store the query and key projections with their rows permuted per head (llama.cpp's
``permute``, which transformers undoes when it loads a GGUF); the permutation acts on output rows,
so it is applied to ``lora_b`` of ``attn_q`` and ``attn_k`` only. llama.cpp scales the product by
``alpha / rank``, as peft does. Only the llama architecture is written (SmolLM2, the base).

``manifest(...)`` records what the adapter is: base file and sha256, mixture digest, steps, seed,
final loss, settings. ``check_adapter`` loads the base GGUF with the adapter in llama-cpp-python
(``Llama(model_path=..., lora_path=...)``) and compares, on held-out prompts, its next-token
log-probabilities with the torch model's (the check that can fail: largest difference over the
most likely tokens, against a stated tolerance) and its greedy continuations.

Not here: training (``trainer``), choosing the examples (``mixture``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forage.core.errors import ConfigError

log = logging.getLogger(__name__)

# transformers' module name -> llama.cpp's base tensor name
TENSOR_NAMES = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_LORA = re.compile(r"layers\.(\d+)\.(self_attn\.\w+|mlp\.\w+)\.lora_([AB])\.")


def permute_rows(rows: Any, n_head: int) -> Any:
    """llama.cpp's q/k permutation (``convert_hf_to_gguf.LlamaModel.permute``) on the first axis
    of ``rows`` (out x k): within each head, interleaved rotary halves become contiguous."""
    out = rows.shape[0]
    return (rows.reshape(n_head, 2, out // n_head // 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def unpermute_rows(rows: Any, n_head: int) -> Any:
    """The inverse of ``permute_rows`` (reading a GGUF adapter back for ``--init``)."""
    out = rows.shape[0]
    return (rows.reshape(n_head, out // n_head // 2, 2, *rows.shape[1:])
            .swapaxes(1, 2).reshape(rows.shape))


def lora_tensors(model: Any, *, qk_permutation: bool = True) -> dict[str, Any]:
    """``{gguf name: float32 numpy array}`` of a peft llama model's LoRA A and B matrices
    (``qk_permutation=False`` leaves q/k rows unpermuted: a wrong export, for the check's
    negative control only)."""
    config = model.base_model.model.config
    if config.model_type != "llama":
        raise ConfigError(f"only llama-architecture adapters can be written, not "
                          f"{config.model_type}")
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    out: dict[str, Any] = {}
    for name, param in model.named_parameters():
        m = _LORA.search(name)
        if m is None or "lora_" not in name:
            continue
        layer, module, which = int(m.group(1)), m.group(2), m.group(3)
        if module not in TENSOR_NAMES:
            raise ConfigError(f"no llama.cpp name for the adapted module {module}")
        array = param.detach().float().cpu().numpy()
        base = TENSOR_NAMES[module]
        if which == "B" and base in ("attn_q", "attn_k") and qk_permutation:
            array = permute_rows(array, n_head if base == "attn_q" else n_kv)
        out[f"blk.{layer}.{base}.weight.lora_{which.lower()}"] = array
    if not out:
        raise ConfigError("the model has no LoRA tensors")
    return out


def write_adapter(model: Any, path: str | Path, *, dtype: str = "f16",
                  qk_permutation: bool = True) -> Path:
    """Write ``model``'s LoRA as a GGUF adapter at ``path`` (``f16`` or ``f32`` tensors)."""
    import gguf
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    peft_config = model.peft_config["default"]
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(peft_config.lora_alpha))
    np_type = {"f16": np.float16, "f32": np.float32}[dtype]
    for name, array in sorted(lora_tensors(model, qk_permutation=qk_permutation).items()):
        writer.add_tensor(name, np.ascontiguousarray(array.astype(np_type)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest(
    *, adapter: Path, base: Path, base_name: str, mixture: dict[str, object],
    settings: dict[str, object], steps: int, final_loss: float, check: dict[str, object] | None,
) -> dict[str, object]:
    return {
        "format": "forage-adapter/1",
        "adapter": {"file": adapter.name, "sha256": sha256(adapter),
                    "bytes": adapter.stat().st_size},
        "base": {"model": base_name, "file": base.name, "sha256": sha256(base)},
        "mixture": mixture,
        "training": {**settings, "steps": steps, "final_loss": final_loss},
        "check": check,
    }


def write_manifest(data: dict[str, object], path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    return path


# Next-token log-probabilities, torch (the float32 dequantized base + LoRA) against llama.cpp (the
# Q4_1 base + the GGUF adapter): per prompt, the largest |difference| over torch's TOP_TOKENS most
# likely tokens; the check's statistic is the median of that over the held-out prompts. llama.cpp
# quantizes activations for its Q4_1 matrix products, so the two never agree exactly. Measured on
# 12 prompts with forage-small's LoRA (benchmarks/export_check.py, docs/LOG.md 2026-12-06): median
# 0.20 for the base alone, 0.32 for a right export, 0.67 for an export with the q/k permutation
# wrong (single prompts reach 0.59 / 0.86 / 1.16, so a maximum cannot separate them).
TOP_TOKENS = 10
LOGPROB_TOLERANCE = 0.5


@dataclass(frozen=True)
class Check:
    prompts: int
    agree: int  # greedy continuations identical in torch and llama.cpp
    changed: int  # llama.cpp with the adapter differs from llama.cpp without it
    pairs: tuple[tuple[str, str], ...]  # (torch, llama.cpp) per prompt
    logprob_diff: float = float("nan")  # median over prompts (see TOP_TOKENS)
    max_logprob_diff: float = float("nan")  # the largest over prompts, for the record
    tolerance: float = LOGPROB_TOLERANCE

    @property
    def passed(self) -> bool:
        return self.logprob_diff <= self.tolerance

    @property
    def agreement(self) -> float:
        return self.agree / self.prompts if self.prompts else 0.0

    def to_dict(self) -> dict[str, object]:
        return {"prompts": self.prompts, "agree": self.agree, "changed_from_base": self.changed,
                "agreement": round(self.agreement, 3),
                "logprob_diff_median": round(self.logprob_diff, 4),
                "max_logprob_diff": round(self.max_logprob_diff, 4),
                "logprob_tolerance": self.tolerance, "top_tokens": TOP_TOKENS,
                "passed": self.passed}


def torch_next_logprobs(model: Any, ids: Sequence[int]) -> Any:
    """log p(next token) after ``ids`` (numpy, vocabulary-sized) from the torch model."""
    import torch

    with torch.no_grad():
        logits = model(input_ids=torch.tensor([list(ids)])).logits[0, -1].float()
    return torch.log_softmax(logits, -1).numpy()


def llama_next_logprobs(llm: Any, ids: Sequence[int]) -> Any:
    """log p(next token) after ``ids`` from a llama-cpp-python model (the same token ids, so
    tokenizers cannot differ)."""
    import numpy as np

    llm.reset()
    llm.eval(list(ids))
    ptr = llm._ctx.get_logits_ith(-1)  # llama-cpp-python keeps no scores without logits_all
    logits = np.ctypeslib.as_array(ptr, shape=(llm.n_vocab(),)).astype(np.float64)
    logits -= logits.max()
    return logits - np.log(np.exp(logits).sum())


def logprob_diff(torch_lp: Any, llama_lp: Any, top: int = TOP_TOKENS) -> float:
    """The largest |difference| of log-probabilities over torch's ``top`` most likely tokens."""
    import numpy as np

    best = np.argsort(-torch_lp)[:top]
    return float(np.max(np.abs(torch_lp[best] - llama_lp[best])))


def llama_greedy(llm: Any, prompt: str, *, max_tokens: int, stop: Sequence[str]) -> str:
    out = llm.create_completion(prompt, max_tokens=max_tokens, temperature=0.0, top_k=1,
                                stop=list(stop))
    return str(out["choices"][0]["text"])


def check_adapter(
    adapter: str | Path, base: str | Path, model: Any, tokenizer: Any, prompts: Sequence[str], *,
    max_tokens: int = 16, stop: Sequence[str] = ("\n",), n_ctx: int = 2048,
) -> Check:
    """Greedy continuations of ``prompts``: torch (``model``) against llama.cpp (``base`` GGUF
    with the ``adapter``), and llama.cpp with against without the adapter; and the difference of
    next-token log-probabilities between torch and llama.cpp (``passed`` when its median over the
    prompts is within ``LOGPROB_TOLERANCE``)."""
    import numpy as np
    from llama_cpp import Llama

    from forage.train.trainer import greedy

    torch_out = [greedy(model, tokenizer, p, max_new_tokens=max_tokens, stop=stop) for p in prompts]
    ids = [tokenizer(p, add_special_tokens=False).input_ids[-(n_ctx - 1):] for p in prompts]
    torch_lp = [torch_next_logprobs(model, i) for i in ids]
    with_adapter = Llama(model_path=str(base), lora_path=str(adapter), n_ctx=n_ctx,
                         verbose=False, seed=0)
    llama_out = [llama_greedy(with_adapter, p, max_tokens=max_tokens, stop=stop) for p in prompts]
    diffs = [logprob_diff(t, llama_next_logprobs(with_adapter, i))
             for t, i in zip(torch_lp, ids, strict=True)]
    del with_adapter
    plain = Llama(model_path=str(base), n_ctx=n_ctx, verbose=False, seed=0)
    base_out = [llama_greedy(plain, p, max_tokens=max_tokens, stop=stop) for p in prompts]
    del plain
    agree = sum(a.strip() == b.strip() for a, b in zip(torch_out, llama_out, strict=True))
    changed = sum(a.strip() != b.strip() for a, b in zip(llama_out, base_out, strict=True))
    return Check(len(prompts), agree, changed, tuple(zip(torch_out, llama_out, strict=True)),
                 logprob_diff=float(np.median(diffs)) if diffs else float("nan"),
                 max_logprob_diff=max(diffs, default=float("nan")))
