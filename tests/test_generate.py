"""Self-Instruct against the fake server: parsing, every filter, classification, accounting."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from instructkit.engines.local import run
from instructkit.errors import InstructkitError
from instructkit.generate.filters import REASONS, rule_verdict
from instructkit.generate.parse import parse_classification, parse_instances, parse_instructions
from instructkit.generate.rouge import RougeIndex, lcs_lengths, tokenize
from instructkit.steps.generate import GenerateConfig, GenerateStep
from tests.fake_llm_server import FakeLLMServer
from tests.generate_fakes import SEEDS, self_instruct_responder, write_seed_tasks

pytest.importorskip("openai")


# --- parsing -------------------------------------------------------------------------------


def test_numbered_list_continues_the_open_number() -> None:
    answer = "Name three rivers in Africa.\n10. List five red fruits.\n11) Explain what a verb is."
    assert parse_instructions(answer) == [
        "Name three rivers in Africa.",
        "List five red fruits.",
        "Explain what a verb is.",
    ]


def test_stray_text_is_not_an_instruction() -> None:
    answer = (
        "Sure! Here are some more tasks:\n9. Name five birds that cannot fly.\n"
        "10. **Describe a sunset over the ocean.**\n\nI hope these help, let me know!"
    )
    assert parse_instructions(answer) == [
        "Name five birds that cannot fly.",
        "Describe a sunset over the ocean.",
    ]


def test_text_before_the_first_number_is_an_item_only_after_an_open_number() -> None:
    from instructkit.generate.prompts import open_ended

    answer = "Sure, here they are.\n9. Name five birds that cannot fly."
    assert parse_instructions(answer, open_item=False) == ["Name five birds that cannot fly."]
    assert parse_instructions(answer, open_item=True)[0] == "Sure, here they are."
    assert open_ended("Come up with a series of tasks:\n1. A task.\n2.")
    assert not open_ended("Here are 2 example tasks:\n1. A task.\n2. B task.\n\nWrite 2 new tasks.")


def test_an_item_is_its_first_line_and_the_model_answering_it_is_dropped() -> None:
    # what SmolLM2-135M wrote: numbering restarted at 1, each task followed by its own answer
    answer = (
        "1. Planning a syllabus:\nA list of tasks can be created, but it's more effective to plan.\n\n"
        '2. Rewrite the sentence: "The text was edited by an expert."\n'
        "To edit, I would need to know how much work has been done.\n"
        "3. Paraphrase the paragraph using proper vocabulary and grammar;\n"
    )
    assert parse_instructions(answer) == [
        "Planning a syllabus:",
        'Rewrite the sentence: "The text was edited by an expert."',
        "Paraphrase the paragraph using proper vocabulary and grammar",
    ]


def test_a_truncated_answer_keeps_an_item_whose_line_was_finished() -> None:
    # cut off while repeating itself inside item 1's answer: item 1's own line is complete
    answer = "1. Detect any stereotype in the sentence below:\nSentence 1: The company has many\n"
    assert parse_instructions(answer[:-1], truncated=True) == [
        "Detect any stereotype in the sentence below:"
    ]


def test_a_truncated_answer_loses_its_last_item() -> None:
    answer = "9. Name five birds that cannot fly.\n10. Tell me a joke about"
    assert parse_instructions(answer, truncated=True) == ["Name five birds that cannot fly."]
    assert parse_instructions(answer, truncated=False)[-1] == "Tell me a joke about"


def test_quotes_and_spaces_are_tidied() -> None:
    assert parse_instructions('9.   "suggest a   name for a dog."  \n') == [
        "Suggest a name for a dog."
    ]
    assert parse_instructions("1. 3. Convert the sentence to camelCase.") == [
        "Convert the sentence to camelCase."
    ]
    assert parse_instructions("") == [] and parse_instructions("Here you go:\n\n") == []


def test_classification_answer() -> None:
    assert parse_classification("Yes.") is True
    assert parse_classification("no, it asks for an essay") is False
    assert parse_classification("It depends") is None


def test_an_instance_copied_from_the_demonstrations_is_not_usable() -> None:
    from instructkit.generate.engine import usable

    prompt = "Task: Sort.\nInput: 3, 1\nOutput: 1, 3\n\nTask: Give tips.\nOutput: Go to bed at the same time.\n"
    assert not usable("Name a fruit.", "", "Go to bed at the same time.", prompt)
    assert usable("Sort the numbers.", "9, 2", "1, 3", prompt), "a short output may match by chance"
    assert not usable("Name a fruit.", "apple", "apple", prompt)
    assert not usable("Name a fruit.", "", "  ", prompt)
    # an input copied from a demonstration belongs to another task (the 135M model does this)
    demo = "Task: Rewrite.\nInput: The committee approved the new budget.\nOutput: Done.\n"
    assert not usable("Summarize it.", "The committee approved the new budget.", "A budget.", demo)


def test_instances_input_first_and_output_first() -> None:
    assert parse_instances("Input: None\nOutput: Sleep well.", False) == [("", "Sleep well.")]
    assert parse_instances("Output: 42", False) == [("", "42")]
    assert parse_instances(
        "Input: 2, 1\nOutput: 1, 2\nTask: Other\nInput: x\nOutput: y", False
    ) == [("2, 1", "1, 2")]
    # an input with no output (small models stop there): returned for the caller to complete
    assert parse_instances("Input: The cat sat on the mat.", False) == [
        ("The cat sat on the mat.", None)
    ]
    assert parse_instances("Input: a\nInput: b\nOutput: c", False) == [("a", None), ("b", "c")]
    assert parse_instances("Input: a label-less input", True) == []
    clf = "Class label: Spam\nInput: Win money now!\nClass label: Not spam\nInput: Lunch at noon?"
    assert parse_instances(clf, True) == [
        ("Win money now!", "Spam"),
        ("Lunch at noon?", "Not spam"),
    ]
    assert parse_instances("Just some words.", False) == []
    echoed = "Task: Is it a fact?\nOutput: Fact\nInput: Water boils at 100 C."
    assert parse_instances(echoed, True) == [("Water boils at 100 C.", "Fact")]


# --- filters -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Name three birds", "too_short"),
        ("Describe " + "very " * 150 + "long things.", "too_long"),
        ("Plot the sales of the last year.", "unsuitable_task"),
        ("Describe the IMAGES in the article briefly.", "unsuitable_task"),
        ("Tell me how to go to the station.", "unsuitable_task"),
        ("Write a program that adds two numbers.", "write_a_program"),
        ("- List three animals that live in the sea.", "starts_with_punctuation"),
        ("¿Cuál es tu color favorito en el verano?", "starts_non_ascii"),
        ("Name three birds that cannot fly.", None),
        (
            "Explain the difference between a mapping and a filter.",
            None,
        ),  # 'map' is a whole word only
    ],
)
def test_rule_filters(text: str, reason: str | None) -> None:
    verdict = rule_verdict(text)
    assert (verdict.reason if verdict else None) == reason


def test_rouge_matches_rouge_score_package() -> None:
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rng = np.random.default_rng(0)
    vocab = ["the", "a", "cat", "dog", "List", "three", "name", "of", "in", "Write", "poem", "x1"]
    texts = [" ".join(rng.choice(vocab, rng.integers(1, 12))) + "." for _ in range(200)]
    index = RougeIndex(0.7)
    for t in texts[:100]:
        index.add(t)
    rows = np.arange(100)
    for cand in texts[100:]:
        ours = index.scores(cand, rows)
        theirs = [scorer.score(p, cand)["rougeL"].fmeasure for p in texts[:100]]
        assert np.array_equal(ours, np.array(theirs))
        near = index.nearest(cand)
        assert (near is not None) == (max(theirs) >= 0.7)
        if near is not None:
            assert near.score == max(theirs)


def test_lcs_of_many_rows_at_once() -> None:
    rows = np.array([[1, 2, 3, -1], [3, 2, 1, -1], [2, 1, 3, 1]])
    assert lcs_lengths(np.array([1, 2, 3]), rows).tolist() == [3, 1, 2]
    assert tokenize("Don't stop-me now!") == ["don", "t", "stop", "me", "now"]


# --- the step against the fake server --------------------------------------------------------


def generate(
    tmp_path: Path, srv: FakeLLMServer, **options: object
) -> tuple[dict, list[dict], list[dict]]:
    src = tmp_path / "seeds.jsonl"
    write_seed_tasks(src)
    out = tmp_path / "out.jsonl"
    config = GenerateConfig.from_config(
        {"base-url": srv.base_url, "model": "fake", "requests-per-round": 2} | options
    )
    summary = run([str(src)], out, [GenerateStep(config, output=out)])
    records = [orjson.loads(x) for x in out.read_bytes().splitlines()]
    rejects = [
        orjson.loads(x) for x in out.with_name("out.rejects.jsonl").read_bytes().splitlines()
    ]
    return summary, records, rejects


def test_every_filter_rejects_and_the_books_balance(tmp_path: Path) -> None:
    with FakeLLMServer(responder=self_instruct_responder) as srv:
        summary, records, rejects = generate(tmp_path, srv, n=9)
    assert summary["balanced"]
    assert summary["records_in"] == len(SEEDS) and len(records) == 9
    assert summary["records_in"] + summary["generated"] == len(records) + len(rejects)
    reasons = Counter(r["reason"] for r in rejects)
    assert set(REASONS) <= set(reasons), reasons
    assert reasons["seed_not_kept"] == len(SEEDS)
    close = next(r for r in rejects if r["reason"] == "too_similar")
    assert "ROUGE-L 1.000" in close["detail"] and "seed_task_" in close["detail"]
    for rec in records:
        lineage = rec["lineage"]
        assert lineage["method"] == "self_instruct" and lineage["model"] == "fake"
        assert len(lineage["in_context"]) == 8 and lineage["round"] >= 1
        assert [m["role"] for m in rec["messages"]] == ["user", "assistant"]
    # later rounds show the model tasks generated earlier (at most 2 of 8)
    later = [r for r in records if r["lineage"]["round"] > 1]
    assert later and all(
        1 <= sum(i.startswith("si-") for i in r["lineage"]["in_context"]) <= 2 for r in later
    )
    assert summary["steps"]["generate"]["candidates"] == summary["generated"]


def test_classification_tasks_get_output_first_instances(tmp_path: Path) -> None:
    with FakeLLMServer(responder=self_instruct_responder) as srv:
        _, records, rejects = generate(tmp_path, srv, n=6)
        prompts = [e for e in srv.log]
    clf = [r for r in records if r["meta"]["instruction"].startswith("Classify")]
    assert clf and all(r["meta"]["is_classification"] is True for r in clf)
    assert all(r["messages"][1]["content"] == "Animal" for r in clf), "the label is the output"
    assert all(r["meta"]["input"] == "A small grey creature that squeaks." for r in clf)
    open_ended = [r for r in records if not r["meta"]["instruction"].startswith("Classify")]
    assert open_ended and all(r["meta"]["is_classification"] is False for r in open_ended)
    riddles = [r for r in open_ended if r["meta"]["instruction"].startswith("Riddle")]
    assert riddles, "an input with no output is completed by a call of its own"
    for r in riddles:
        assert r["meta"]["input"] == "What has keys but cannot open locks?"
        assert r["meta"]["output_from"] == "respond"
        assert r["messages"][1]["content"].startswith("A direct answer to: Riddle about")
    others = [r for r in open_ended if r not in riddles]
    assert others and all(r["meta"]["input"] == "" for r in others)
    assert all(r["meta"]["output_from"] == "example" for r in others + clf)
    failed = [r for r in rejects if r["reason"] == "no_instance"]
    assert failed and all("Mystery" in r["record"]["meta"]["instruction"] for r in failed)
    assert prompts


def test_no_respond_writes_instructions_only(tmp_path: Path) -> None:
    with FakeLLMServer(responder=self_instruct_responder) as srv:
        summary, records, _ = generate(tmp_path, srv, n=5, respond=False, keep_seeds=True)
        calls = len(srv.log)
    generated = [r for r in records if r.get("lineage")]
    assert len(generated) == 5 and all(len(r["messages"]) == 1 for r in generated)
    assert len(records) == 5 + len(SEEDS), "keep-seeds writes the seeds too"
    assert calls == summary["steps"]["generate"]["requests"], "no classify or instance call"
    assert summary["balanced"]


def test_truncated_answers_drop_their_last_candidate(tmp_path: Path) -> None:
    with FakeLLMServer(responder=self_instruct_responder) as srv:
        summary, _, rejects = generate(
            tmp_path, srv, n=3, respond=False, **{"instruction-max-tokens": 10}
        )
    report = summary["steps"]["generate"]
    assert report["truncated_answers"] == report["requests"]
    # the fake's last item is the "Mystery" one: never read from a truncated answer
    assert not any("Mystery" in (r["record"]["meta"].get("instruction") or "") for r in rejects)


def test_failed_calls_are_reported_and_the_run_stops_at_its_budget(tmp_path: Path) -> None:
    # the first round is answered, every later call fails (a server that answers nothing at all
    # stops the run with one clear line: that is the client's rule, tested with the client)
    faults = ["ok"] * 2 + ["500"] * 200
    with FakeLLMServer(responder=self_instruct_responder, faults=faults) as srv:
        summary, records, _ = generate(
            tmp_path, srv, n=50, respond=False, **{"max-requests": 6, "max-retries": 0}
        )
    report = summary["steps"]["generate"]
    assert summary["balanced"] and 0 < len(records) < 50
    assert len(report["failed_calls"]) == 4 and report["requests"] == 6
    assert all(
        f["phase"] == "bootstrap" and f["kind"] == "server_error" for f in report["failed_calls"]
    )
    assert f"made {len(records)} of 50" in report["shortfall"]


def test_config_errors_name_the_option() -> None:
    with pytest.raises(InstructkitError, match="model is required"):
        GenerateConfig.from_config({"base-url": "http://x/v1"})
    with pytest.raises(InstructkitError, match="in-context-generated"):
        GenerateConfig.from_config({"in-context": 2, "in-context-generated": 3})


def test_instances_are_asked_for_no_more_instructions_than_needed(tmp_path: Path) -> None:
    firsts: list[str] = []

    def recording(messages: list[dict[str, str]], body: dict) -> str:
        firsts.append(messages[0]["content"])
        return self_instruct_responder(messages, body)

    with FakeLLMServer(responder=recording) as srv:
        summary, records, rejects = generate(tmp_path, srv, n=3, **{"requests-per-round": 1})
    report = summary["steps"]["generate"]
    classified = sum(f.startswith("Can the following task") for f in firsts)
    failed = sum(r["reason"] == "no_instance" for r in rejects)
    assert len(records) == 3 and classified == 3 + failed, "a classify call per instruction used"
    surplus = [r for r in rejects if r["reason"] == "surplus"]
    assert surplus and all("before an instance was asked" in r["detail"] for r in surplus)
    assert report["instances"]["surplus"] == len(surplus)
    assert report["instructions_kept"] == 3 + failed + len(surplus)


def test_a_few_shot_template_must_end_with_the_users_turn(tmp_path: Path) -> None:
    from instructkit.generate.prompts import Templates

    (tmp_path / "classify.txt").write_text("Task: {instruction}\n---\nYes\n")
    with pytest.raises(InstructkitError, match="ending with the user's"):
        Templates.load(tmp_path)
    (tmp_path / "classify.txt").write_text("Is it?\nTask: a\n---\nYes\n---\nTask: {instruction}\n")
    turns = Templates.load(tmp_path).classify("Name a colour.")
    assert [m["role"] for m in turns] == ["user", "assistant", "user"]
    assert turns[-1]["content"] == "Task: Name a colour." and turns[1]["content"] == "Yes"


def test_the_papers_prompt_is_one_template_file_away(tmp_path: Path) -> None:
    from instructkit.generate.prompts import Task, Templates, open_ended

    tasks = [Task(f"t{k}", f"Task number {k}:") for k in range(1, 4)]
    packaged = Templates.load(None).instructions(tasks)
    assert "1. Task number 1\n" in packaged and "Number them 4 to 6" in packaged
    assert not open_ended(packaged)
    (tmp_path / "instructions.txt").write_text(
        "Come up with a series of tasks:\n{tasks}\n{next}.\n"
    )
    paper = Templates.load(tmp_path).instructions(tasks)
    assert paper.endswith("3. Task number 3\n4.") and open_ended(paper)
