"""The GGUF adapter's layout: names, shapes, metadata, and the q/k row permutation."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the train extra (forage[train]) is not installed")

import gguf  # noqa: E402
import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402
from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor  # noqa: E402

from forage.train.export import lora_tensors, permute_rows, write_adapter  # noqa: E402
from forage.train.trainer import TrainSettings, with_lora  # noqa: E402


@pytest.mark.parametrize("heads,kv", [(9, 9), (9, 3), (4, 2)])
def test_permutation_is_what_transformers_undoes_when_it_loads_a_gguf(heads, kv):
    head_dim, cols = 8, 5
    w = np.arange(kv * head_dim * cols, dtype=np.float32).reshape(kv * head_dim, cols)
    permuted = permute_rows(w, kv)
    assert not np.array_equal(permuted, w)
    undone = LlamaTensorProcessor()._reverse_permute_weights(permuted, heads, kv)
    assert np.array_equal(undone, w)


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    model = with_lora(LlamaForCausalLM(config), TrainSettings(rank=4, alpha=8.0))
    for name, p in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; give it values so permutation shows
            torch.nn.init.normal_(p)
    return model


def test_adapter_has_llama_cpp_names_shapes_and_metadata(tiny, tmp_path):
    path = write_adapter(tiny, tmp_path / "a.gguf", dtype="f32")
    reader = gguf.GGUFReader(str(path))

    def field(key):
        f = reader.fields[key]
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types[0] == gguf.GGUFValueType.STRING else value[0]

    assert field("general.type") == "adapter" and field("adapter.type") == "lora"
    assert field("general.architecture") == "llama" and field("adapter.lora.alpha") == 8.0
    tensors = {t.name: t for t in reader.tensors}
    bases = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
    assert set(tensors) == {f"blk.{i}.{b}.weight.lora_{x}"
                            for i in range(2) for b in bases for x in "ab"}
    # ggml shapes are reversed: lora_a is (rank x in) -> [in, rank]; lora_b (out x rank).
    assert list(tensors["blk.0.attn_q.weight.lora_a"].shape) == [32, 4]
    assert list(tensors["blk.0.attn_k.weight.lora_b"].shape) == [4, 16]
    assert list(tensors["blk.1.ffn_down.weight.lora_a"].shape) == [48, 4]


def test_only_query_and_key_b_matrices_are_permuted(tiny):
    written = lora_tensors(tiny)
    params = dict(tiny.named_parameters())

    def raw(module, which):
        key = next(k for k in params if f"layers.0.{module}.lora_{which}" in k)
        return params[key].detach().numpy()

    assert np.array_equal(written["blk.0.attn_v.weight.lora_b"], raw("self_attn.v_proj", "B"))
    assert np.array_equal(written["blk.0.attn_q.weight.lora_a"], raw("self_attn.q_proj", "A"))
    assert np.array_equal(written["blk.0.attn_q.weight.lora_b"],
                          permute_rows(raw("self_attn.q_proj", "B"), 4))
    assert np.array_equal(written["blk.0.attn_k.weight.lora_b"],
                          permute_rows(raw("self_attn.k_proj", "B"), 2))
    assert not np.array_equal(written["blk.0.attn_k.weight.lora_b"], raw("self_attn.k_proj", "B"))

