"""The dataset registry: shipped files split by their own rules, types filled in where missing."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from forage.core.errors import DataError
from forage.data.loaders import load
from forage.eval.datasets import (
    EveryNthLine,
    FirstLines,
    KnownDataset,
    known_dataset,
    open_dataset,
    split_dataset,
)

SHARED = Path(__file__).resolve().parents[2] / "data"
HOTPOT = SHARED / "hotpotqa_dev_distractor_500.jsonl"
FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"


def test_split_rules_pick_positions() -> None:
    assert [i for i in range(25) if EveryNthLine(10).is_dev(i)] == [0, 10, 20]
    assert [i for i in range(5) if FirstLines(2).is_dev(i)] == [0, 1]


def test_type_boundaries_apply_from_their_first_index() -> None:
    known = KnownDataset("x", "x.jsonl", 6, FirstLines(1), types=((0, "bridge"), (4, "comparison")))
    assert [known.type_at(i) for i in range(6)] == ["bridge"] * 4 + ["comparison"] * 2
    assert KnownDataset("y", "y.jsonl", 1, FirstLines(1)).type_at(0) is None


def test_shared_hotpotqa_dev_is_every_tenth_line_with_both_types() -> None:
    data = load(HOTPOT)
    dev, test, how = split_dataset(data)
    assert (len(dev), len(test)) == (50, 450)
    assert how == "every 10th from 0 = dev"
    assert [q.id for q in dev] == [data.questions[i].id for i in range(0, 500, 10)]
    assert Counter(q.type for q in dev) == {"bridge": 25, "comparison": 25}
    assert Counter(q.type for q in test) == {"bridge": 225, "comparison": 225}
    assert not {q.id for q in dev} & {q.id for q in test}


def test_open_dataset_scores_the_registry_test_split_whatever_dev_size_says() -> None:
    ds = open_dataset(HOTPOT, dev_size=50, limit=3)
    data = load(HOTPOT)
    assert [q.id for q in ds.questions] == [data.questions[i].id for i in (1, 2, 3)]
    assert [q.id for q in ds.dev][:2] == [data.questions[0].id, data.questions[10].id]
    assert ds.kind == "ircot"


def test_an_unknown_file_in_the_same_format_is_split_by_dev_size() -> None:
    data = load(FIXTURES / "ircot_small.jsonl")
    assert known_dataset(data.path) is None
    dev, test, how = split_dataset(data, 1)
    assert [q.id for q in dev] == ["5a8c7595554299585d9e36b6"] and len(test) == 2
    assert how == "first 1 = dev"
    assert dev[0].type is None  # no registry, no invented type


def test_a_known_file_with_skipped_records_refuses_a_positional_split(tmp_path: Path) -> None:
    copy = tmp_path / HOTPOT.name
    shutil.copy(HOTPOT, copy)
    with copy.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"question_id": "bad", "question_text": "?", "answers_objects": []}))
        fh.write("\n")
    with pytest.raises(DataError, match="split of hotpotqa by position would be wrong"):
        split_dataset(load(copy))
