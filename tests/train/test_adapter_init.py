"""Continuing from an earlier adapter: a GGUF adapter reads back into the same peft weights, and
weights that do not fit the run are refused in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch", reason="the train extra (forage[train]) is not installed")

import torch  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from forage.core.errors import ConfigError  # noqa: E402
from forage.train.adapter_init import load_init, resolve_init  # noqa: E402
from forage.train.export import lora_tensors, permute_rows, unpermute_rows, write_adapter  # noqa: E402
from forage.train.trainer import TrainSettings, with_lora  # noqa: E402


def _model(settings: TrainSettings, seed: int):
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=48,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)
    model = with_lora(LlamaForCausalLM(config), settings)
    for name, p in model.named_parameters():
        if "lora_" in name:
            torch.nn.init.normal_(p)
    return model


@pytest.mark.parametrize("heads", [1, 2, 4, 9])
def test_unpermute_undoes_the_q_k_permutation(heads):
    rows = np.arange(heads * 6 * 3, dtype=np.float32).reshape(heads * 6, 3)
    assert np.array_equal(unpermute_rows(permute_rows(rows, heads), heads), rows)


def test_a_gguf_adapter_reads_back_into_the_same_lora_weights(tmp_path):
    settings = TrainSettings(rank=4, alpha=8.0)
    trained = _model(settings, seed=0)
    path = write_adapter(trained, tmp_path / "a.gguf", dtype="f32")
    fresh = _model(settings, seed=1)
    assert any(not np.allclose(a, b) for a, b in zip(lora_tensors(fresh).values(),
                                                     lora_tensors(trained).values()))
    load_init(fresh, str(path), settings)
    want, got = lora_tensors(trained), lora_tensors(fresh)
    assert want.keys() == got.keys()
    for k in want:
        assert np.allclose(want[k], got[k], atol=1e-6), k


def test_peft_weights_kept_by_a_run_load_too(tmp_path):
    settings = TrainSettings(rank=4, alpha=8.0)
    trained = _model(settings, seed=0)
    trained.save_pretrained(tmp_path / "adapter")
    fresh = _model(settings, seed=1)
    load_init(fresh, str(tmp_path / "adapter"), settings)
    for k, v in lora_tensors(trained).items():
        assert np.allclose(v, lora_tensors(fresh)[k]), k


def test_weights_that_do_not_fit_the_run_are_refused(tmp_path):
    path = write_adapter(_model(TrainSettings(rank=4, alpha=8.0), 0), tmp_path / "a.gguf")
    with pytest.raises(ConfigError, match="rank is 4.*use --rank 4"):
        load_init(_model(TrainSettings(rank=8, alpha=8.0), 1), str(path),
                  TrainSettings(rank=8, alpha=8.0))
    with pytest.raises(ConfigError, match="no such adapter"):
        resolve_init(str(tmp_path / "missing.json"), "smollm2")
    with pytest.raises(ConfigError, match="a base model has no adapter"):
        resolve_init("smollm2", "smollm2")


def test_the_shipped_adapter_is_of_smollm2_and_not_of_another_base():
    assert resolve_init("forage-small", "smollm2").kind == "gguf"
    with pytest.raises(ConfigError, match="trained on base 'smollm2'.*gemma3-270m"):
        resolve_init("forage-small", "gemma3-270m")


def test_a_manifest_that_is_not_one_is_refused(tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ConfigError, match="--init"):
        resolve_init(str(bad), "smollm2")
