"""forage-small: the shipped LoRA adapter is the one its manifest describes, on the base it names,
and llama.cpp applies it when the model is loaded by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from forage.core.types import Document, Hit
from forage.llm.models import ADAPTER_DIR, MODELS, resolve_model, sha256_file
from forage.prompts.reader import flat_reader_prompt
from forage.prompts.render import render


def manifest() -> dict:
    return json.loads((ADAPTER_DIR / "forage-small.json").read_text())


def test_forage_small_resolves_to_the_smollm2_file_and_the_shipped_adapter():
    model = resolve_model("forage-small")
    assert model.path == resolve_model("smollm2").path
    assert model.adapter == ADAPTER_DIR / MODELS["forage-small"].adapter
    assert resolve_model("smollm2").adapter is None


def test_the_manifest_names_the_shipped_adapter_and_the_base_it_was_trained_on():
    data = manifest()
    model = resolve_model("forage-small")
    assert data["adapter"]["file"] == model.adapter.name
    assert data["adapter"]["sha256"] == sha256_file(model.adapter)
    assert data["base"]["sha256"] == sha256_file(model.path)
    assert data["training"]["steps"] > 0 and data["training"]["seed"] is not None
    assert len(data["mixture"]["digest"]) == 64
    # A few MB, not a copy of the base.
    assert model.adapter.stat().st_size < 0.2 * model.path.stat().st_size


@pytest.mark.embedded
def test_loading_forage_small_applies_the_adapter(tmp_path):
    """By name, and through a training run's manifest: the same adapter, the same outputs."""
    import asyncio

    from forage.llm.embedded import EmbeddedLLM

    passages = [Hit(Document("d1", "Lake Orin", "Lake Orin is a lake in the north of Vellmark. "
                             "It was named after the explorer Tavi Orin, who reached it in 1821."),
                    1.0, 0)]
    questions = ["Who was Lake Orin named after?", "When did Tavi Orin reach Lake Orin?",
                 "Where is Lake Orin?"]
    outputs = {}
    for name in ("smollm2", "forage-small", str(_copy_shipped(tmp_path))):
        llm = EmbeddedLLM(name, n_ctx=1024)
        outs = []
        for q in questions:
            request = render(flat_reader_prompt(q, passages), llm.capabilities.prompt_profile)
            outs.append(asyncio.run(llm.complete(request)).text.strip())
        outputs[name] = outs
        del llm
    assert any(outputs["smollm2"][i] != outputs["forage-small"][i] for i in range(len(questions)))
    assert outputs[str(tmp_path / "mine.json")] == outputs["forage-small"]


def _copy_shipped(tmp_path: Path, **changes: str) -> Path:
    """The shipped manifest and adapter copied into ``tmp_path`` (as a training run leaves them)."""
    import shutil

    data = manifest()
    shutil.copy(ADAPTER_DIR / data["adapter"]["file"], tmp_path / "mine.gguf")
    data["adapter"]["file"] = "mine.gguf"
    for key, value in changes.items():
        section, field = key.split("__")
        data[section][field] = value
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    return path


def test_a_training_manifest_resolves_to_its_base_and_the_adapter_beside_it(tmp_path):
    model = resolve_model(str(_copy_shipped(tmp_path)))
    assert model.path == resolve_model("smollm2").path
    assert model.adapter == tmp_path / "mine.gguf" and model.base == "smollm2"
    assert model.model_id == "smollm2+mine"


@pytest.mark.parametrize("changes,message", [
    ({"adapter__sha256": "0" * 64}, "does not match the sha256"),
    ({"base__sha256": "0" * 64}, "does not match the sha256"),
    ({"adapter__file": "absent.gguf"}, "adapter file not found"),
    ({"base__model": "forage-small"}, "not a registered base model"),
    ({"base__model": "llama-9000"}, "not a registered base model"),
])
def test_a_manifest_that_does_not_describe_its_files_is_refused(tmp_path, changes, message):
    from forage.core.errors import ModelLoadError

    with pytest.raises(ModelLoadError, match=message):
        resolve_model(str(_copy_shipped(tmp_path, **changes)))


def test_a_json_file_that_is_no_manifest_is_refused(tmp_path):
    from forage.core.errors import ModelLoadError

    (tmp_path / "x.json").write_text('{"format": "something-else"}')
    with pytest.raises(ModelLoadError, match="not a forage train manifest"):
        resolve_model(str(tmp_path / "x.json"))
    with pytest.raises(ModelLoadError, match="manifest not found"):
        resolve_model(str(tmp_path / "absent.json"))
