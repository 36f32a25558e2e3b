"""Loading every supported dataset format, pooling the corpus, skipping or refusing bad records."""

from __future__ import annotations

import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from forage.core.errors import DataError
from forage.data.loaders import load, pool_corpus, slugify, split
from forage.data.records import Paragraph

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "data"
HOTPOT = SHARED / "hotpotqa_dev_distractor_500.jsonl"
TWOWIKI = SHARED / "2wikimultihopqa_dev_200.jsonl"


# -- official formats, tiny fixtures ---------------------------------------------------------------


def test_official_hotpotqa_is_detected_and_parsed() -> None:
    data = load(FIXTURES / "hotpotqa_official.json")
    assert data.format == "hotpotqa"
    first, second = data.questions
    assert first.id == "5a8b57f25542995d1e6f1371"
    assert first.answers == ("yes",)
    assert first.type == "comparison"
    assert first.metadata["level"] == "hard"
    assert first.supporting_titles == ("Scott Derrickson", "Ed Wood")
    assert first.hops == 2
    # "Shirley Temple" is cited twice but is one title: two hops, not three
    assert second.supporting_titles == ("Kiss and Tell (1945 film)", "Shirley Temple")
    assert second.hops == 2
    assert second.metadata["supporting_facts"] == (
        ("Kiss and Tell (1945 film)", 0),
        ("Shirley Temple", 0),
        ("Shirley Temple", 1),
    )


def test_hotpotqa_corpus_joins_sentences_and_keeps_first_text_per_title() -> None:
    data = load(FIXTURES / "hotpotqa_official.json")
    by_title = {d.title: d for d in data.corpus}
    assert [d.title for d in data.corpus] == [
        "Ed Wood (film)",
        "Scott Derrickson",
        "Ed Wood",
        "Kiss and Tell (1945 film)",
        "Shirley Temple",
    ]
    assert by_title["Scott Derrickson"].text == (
        "Scott Derrickson (born July 16, 1966) is an American director. He lives in Los Angeles."
    )
    assert by_title["Ed Wood"].text == "Edward Davis Wood Jr. was an American filmmaker."
    assert by_title["Ed Wood (film)"].id == "ed-wood-film"


def test_official_2wiki_is_detected_and_keeps_evidences() -> None:
    data = load(FIXTURES / "2wiki_official.json")
    assert data.format == "2wiki"
    first, second = data.questions
    assert first.answers == ("Małgorzata Braunek",)
    assert first.type == "compositional"
    assert first.metadata["evidences"][1] == ["Xawery Żuławski", "mother", "Małgorzata Braunek"]
    assert first.hops == 2
    assert second.type == "bridge_comparison"
    assert second.hops == 4
    assert len(data.corpus) == 7
    assert data.corpus[1].id == "xawery-żuławski"


def test_official_musique_uses_decomposition_and_aliases() -> None:
    data = load(FIXTURES / "musique_official.jsonl")
    assert data.format == "musique"
    two, three = data.questions
    assert two.answers == ("Fort Lauderdale", "Fort Lauderdale, Florida", "Ft. Lauderdale")
    assert two.decomposition == (
        "Which club does the footballer born in Rosario play for?",
        "Where is #1 based?",
    )
    assert two.hops == 2
    assert two.type == "2hop"
    assert two.supporting_titles == ("Inter Miami CF", "Lionel Messi")
    assert two.metadata["decomposition_answers"] == ("Inter Miami", "Fort Lauderdale")
    assert three.hops == 3
    assert three.type == "3hop1"
    assert three.supporting_titles == ("Alpha", "Beta", "Gamma")


def test_musique_keeps_distinct_paragraphs_under_one_title() -> None:
    data = load(FIXTURES / "musique_official.jsonl")
    ids = [d.id for d in data.corpus]
    assert ids == ["lionel-messi", "inter-miami-cf", "lionel-messi-2", "alpha", "beta", "gamma"]
    assert data.corpus[2].text == "Messi was born in Rosario, Argentina."


def test_ircot_processed_format_is_detected_and_parsed() -> None:
    data = load(FIXTURES / "ircot_small.jsonl")
    assert data.format == "ircot"
    first, second, third = data.questions
    assert first.id == "5a8c7595554299585d9e36b6"
    assert first.answers == ("Chief of Protocol",)
    assert first.type is None and first.hops == 2
    assert first.supporting_titles == ("Shirley Temple", "Kiss and Tell (1945 film)")
    assert first.metadata["context_titles"][0] == "Meet Corliss Archer"
    # numbers, dates and spans of every answer object are gold; pinned contexts come first
    assert second.answers == ("4", "four", "3 May 1970")
    assert (second.type, second.metadata["level"]) == ("compositional", "hard")
    assert second.supporting_titles == ("Alpha (album)", "Beta")
    assert third.answers == ("Delta", "Delta Smith") and third.supporting_titles == ()
    assert third.hops is None


def test_ircot_corpus_keeps_distinct_paragraphs_per_title_and_collapses_spaces() -> None:
    data = load(FIXTURES / "ircot_small.jsonl")
    texts = {d.id: d.text for d in data.corpus}
    assert texts["beta"] == "Beta is a band of four, founded on 3 May 1970."
    assert texts["beta-2"] == "Beta toured Japan in 1985."
    # "Shirley Temple" comes with two questions, same text: one document
    assert [d.title for d in data.corpus].count("Shirley Temple") == 1
    assert texts["shirley-temple"] == (
        "Shirley Temple Black was an American actress. She served as Chief of Protocol of the "
        "United States."
    )


def test_ircot_malformed_records_are_reported_with_their_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = FIXTURES / "ircot_malformed.jsonl"
    with caplog.at_level(logging.WARNING):
        data = load(path)
    assert [q.id for q in data.questions] == ["q3", "ok2"]
    assert [s.line for s in data.skipped] == [2, 3, 4, 5]
    reasons = [s.reason for s in data.skipped]
    assert reasons[0] == "not a valid ircot record: no gold answer"
    assert reasons[1] == "not a valid ircot record: 'paragraph_text' must be a non-empty string"
    assert reasons[2] == "not a valid ircot record: 'contexts' is_supporting must be true or false"
    assert reasons[3].startswith("invalid JSON")
    assert f"{path}:3: skipped" in caplog.text
    with pytest.raises(DataError, match=r"ircot_malformed\.jsonl:2: not a valid ircot record"):
        load(path, strict=True)


def test_plain_qa_jsonl_accepts_answers_or_answer_and_makes_ids_from_lines() -> None:
    data = load(FIXTURES / "qa_plain.jsonl")
    assert data.format == "qa"
    assert [q.id for q in data.questions] == ["line-1", "q2", "line-4"]
    assert data.questions[0].answers == ("Paris", "Paris, France")
    assert data.questions[1].answers == ("yes",)
    assert data.questions[1].type == "yes-no"
    assert data.questions[2].answers == ("William Shakespeare",)
    assert data.corpus == ()
    assert data.questions[0].hops is None


def test_flashrag_reads_sentences_and_2wiki_content_spelling() -> None:
    data = load(FIXTURES / "flashrag_small.jsonl")
    assert data.format == "flashrag"
    assert [d.title for d in data.corpus] == [
        "Scott Derrickson",
        "Ed Wood",
        "Polish-Russian War (film)",
        "Xawery Żuławski",
    ]
    assert data.corpus[1].text == "Edward Davis Wood Jr. was an American filmmaker."
    assert data.corpus[2].text == (
        "Polish-Russian War (Wojna polsko-ruska) is a 2009 Polish film directed by Xawery Żuławski."
    )
    assert data.questions[1].answers == ("Małgorzata Braunek", "Malgorzata Braunek")
    assert data.questions[0].metadata["context_titles"] == ("Scott Derrickson", "Ed Wood")


def test_explicit_format_overrides_detection(tmp_path: Path) -> None:
    # a FlashRAG-looking record read as plain QA: "answers" is missing, so it must fail as qa
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"question": "Q?", "answer": "A", "golden_answers": ["G"]}) + "\n")
    assert load(path).questions[0].answers == ("G",)
    assert load(path, format="qa").questions[0].answers == ("A",)


def test_limit_keeps_first_questions_and_pools_only_their_paragraphs() -> None:
    data = load(FIXTURES / "flashrag_small.jsonl", limit=1)
    assert [q.id for q in data.questions] == ["dev_0"]
    assert [d.title for d in data.corpus] == ["Scott Derrickson", "Ed Wood"]


# -- malformed input ---------------------------------------------------------------------------


def test_malformed_records_are_logged_with_line_and_skipped(caplog: pytest.LogCaptureFixture) -> None:
    path = FIXTURES / "flashrag_malformed.jsonl"
    with caplog.at_level(logging.WARNING, logger="forage.data.loaders"):
        data = load(path)
    assert [q.id for q in data.questions] == ["a", "d"]
    assert [(s.line, s.reason.split(" (")[0]) for s in data.skipped] == [
        (2, "invalid JSON"),
        (3, "not a valid flashrag record: 'question' must be a non-empty string"),
        (6, "duplicate question id 'a'"),
    ]
    logged = [r.getMessage() for r in caplog.records]
    assert len(logged) == 3
    assert logged[0].startswith(f"{path}:2: skipped: invalid JSON")
    assert logged[2] == f"{path}:6: skipped: duplicate question id 'a'"


def test_strict_raises_on_first_malformed_line() -> None:
    path = FIXTURES / "flashrag_malformed.jsonl"
    with pytest.raises(DataError, match=rf"^{path}:2: invalid JSON"):
        load(path, strict=True)


def test_json_list_reports_the_line_where_the_bad_record_starts(tmp_path: Path) -> None:
    records = json.loads((FIXTURES / "hotpotqa_official.json").read_text())
    del records[1]["answer"]
    path = tmp_path / "hotpot.json"
    path.write_text(json.dumps(records, indent=1))
    second_start = path.read_text().splitlines().index(" {", 2) + 1
    data = load(path)
    assert len(data.questions) == 1
    assert data.skipped[0].line == second_start
    with pytest.raises(DataError, match=rf"^{path}:{second_start}: .*'answer'"):
        load(path, strict=True)


def test_broken_json_list_is_an_error_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n {"_id": "x", "question": "q",\n')
    with pytest.raises(DataError, match=rf"^{path}:3: invalid JSON"):
        load(path)


def test_missing_file_is_one_clear_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl: no such file$"):
        load(tmp_path / "nope.jsonl")


def test_unknown_format_name_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"unknown dataset format 'squad'; known: flashrag"):
        load(FIXTURES / "qa_plain.jsonl", format="squad")


def test_undetectable_format_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"text": "just a document"}\n')
    with pytest.raises(DataError, match=r"x\.jsonl:1: cannot tell the dataset format"):
        load(path)


@pytest.mark.parametrize("content", ["", "\n\n", "[]", '{"question": "q", "answers": []}\n'])
def test_no_questions_is_a_data_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=r"empty\.jsonl: no questions"):
        load(path)


def test_non_utf8_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.jsonl"
    path.write_bytes('{"question": "Café?", "answer": "x"}\n'.encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load(path)


# -- pooling and ids -----------------------------------------------------------------------------


def test_slugs_are_readable_and_collisions_get_a_hash_suffix() -> None:
    assert slugify("Doctor Strange (2016 film)") == "doctor-strange-2016-film"
    assert slugify("!!!").startswith("doc-")
    docs = pool_corpus([Paragraph("Romeo + Juliet", "a"), Paragraph("Romeo × Juliet", "b")])
    assert docs[0].id == "romeo-juliet"
    assert docs[1].id.startswith("romeo-juliet-") and len(docs[1].id) == len("romeo-juliet-") + 8
    # the same titles in the same order give the same ids again
    again = pool_corpus([Paragraph("Romeo + Juliet", "a"), Paragraph("Romeo × Juliet", "b")])
    assert [d.id for d in again] == [d.id for d in docs]


def test_split_takes_first_50_as_dev() -> None:
    questions = load(TWOWIKI).questions
    dev, test = split(questions)
    assert len(dev) == 50 and len(test) == 150
    assert dev[0].id == questions[0].id and test[0].id == questions[50].id
    with pytest.raises(DataError):
        split(questions, dev=-1)


# -- the real shared files -----------------------------------------------------------------------


def test_shared_hotpotqa_file() -> None:
    data = load(HOTPOT, strict=True)
    assert data.format == "ircot"
    assert len(data.questions) == 500 and data.skipped == ()
    # 4,931 paragraphs; titles shared between questions carry the same text, so one per title
    assert len(data.corpus) == 4858
    assert len({d.id for d in data.corpus}) == len({d.title for d in data.corpus}) == 4858
    assert {q.type for q in data.questions} == {None}  # the file has no type field
    assert Counter(q.hops for q in data.questions) == {2: 500}
    titles = {d.title for d in data.corpus}
    assert all(set(q.supporting_titles) <= titles for q in data.questions)  # distractor setting
    assert sum(q.answers[0] in ("yes", "no") for q in data.questions[250:]) == 80
    first, comparison = data.questions[0], data.questions[250]
    assert first.answers == ("Chief of Protocol",)
    assert first.supporting_titles == ("Shirley Temple", "Kiss and Tell (1945 film)")
    assert comparison.text == "Were Scott Derrickson and Ed Wood of the same nationality?"
    assert all("  " not in d.text for d in data.corpus)  # IRCoT's double spaces are collapsed


def test_shared_2wiki_file_reads_content_spelling() -> None:
    data = load(TWOWIKI)
    assert len(data.questions) == 200 and data.skipped == ()
    assert len(data.corpus) == 1585
    assert all(d.text for d in data.corpus)
    assert Counter(q.type for q in data.questions) == {
        "compositional": 90,
        "comparison": 48,
        "bridge_comparison": 40,
        "inference": 22,
    }
    assert Counter(q.hops for q in data.questions) == {2: 160, 4: 40}
    assert data.questions[0].answers == ("Małgorzata Braunek",)
    assert data.questions[1].answers == (
        "The Mask Of Fu Manchu",
        "Mask of Fu Manchu",
        "The Mask of Fu Manchu",
    )
    polish = next(d for d in data.corpus if d.title == "Polish-Russian War (film)")
    assert polish.text.startswith("Polish-Russian War (Wojna polsko-ruska) is a 2009 Polish film")


def test_flashrag_keeps_decomposition_hops_and_evidence_of_generated_world(tmp_path):
    import json

    from forage.data.loaders import load

    record = {
        "id": "w1",
        "question": "Who founded the studio that produced Hollow Lighthouse?",
        "golden_answers": ["Lathosan Kamen"],
        "metadata": {
            "type": "bridge",
            "hops": 2,
            "decomposition": [
                {"question": "Which studio produced Hollow Lighthouse?", "answer": "Bolt Pictures"},
                {"question": "Who founded #1?", "answer": "Lathosan Kamen"},
            ],
            "supporting_facts": {"title": ["Hollow Lighthouse", "Bolt Pictures"], "sent_id": [1, 0]},
            "context": {
                "title": ["Hollow Lighthouse", "Bolt Pictures"],
                "sentences": [
                    ["Hollow Lighthouse is a film.", "It was produced by Bolt Pictures."],
                    ["Bolt Pictures was founded by Lathosan Kamen."],
                ],
            },
        },
    }
    path = tmp_path / "w.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (q,) = load(path).questions
    assert q.hops == 2
    assert q.decomposition == ("Which studio produced Hollow Lighthouse?", "Who founded #1?")
    assert q.metadata["decomposition_answers"] == ("Bolt Pictures", "Lathosan Kamen")
    assert q.metadata["evidence"] == (
        "It was produced by Bolt Pictures.",
        "Bolt Pictures was founded by Lathosan Kamen.",
    )
