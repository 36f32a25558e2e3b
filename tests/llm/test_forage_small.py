"""forage-small: the shipped LoRA adapter is the one its manifest describes, on the base it names,
and llama.cpp applies it when the model is loaded by name."""

from __future__ import annotations

import json

import pytest

from forage.core.types import Document, Hit
from forage.llm.models import ADAPTER_DIR, MODELS, resolve_model, sha256_file
from forage.prompts.common import reader_prompt
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
def test_loading_forage_small_applies_the_adapter():
    import asyncio

    from forage.llm.embedded import EmbeddedLLM

    passages = [Hit(Document("d1", "Lake Orin", "Lake Orin is a lake in the north of Vellmark. "
                             "It was named after the explorer Tavi Orin, who reached it in 1821."),
                    1.0, 0)]
    questions = ["Who was Lake Orin named after?", "When did Tavi Orin reach Lake Orin?",
                 "Where is Lake Orin?"]
    outputs = {}
    for name in ("smollm2", "forage-small"):
        llm = EmbeddedLLM(name, n_ctx=1024)
        outs = []
        for q in questions:
            request = render(reader_prompt(q, passages), llm.capabilities.prompt_profile)
            outs.append(asyncio.run(llm.complete(request)).text.strip())
        outputs[name] = outs
        del llm
    assert any(outputs["smollm2"][i] != outputs["forage-small"][i] for i in range(len(questions)))
