"""Cross-lingual pairs: the teacher reads an item's version in its language, the student the
same item in the target language, and both read the same response after their prompts.

Each pair is encoded as two sequences, ``BOS teacher-prompt response EOS`` and ``BOS
student-prompt response EOS``, with the response tokenized once (apart from the prompts, as at
generation time), so the two end with the very same response tokens; labels mark those tokens
(-100 elsewhere). ``response_positions`` is where each sequence's logits predict them: the
alignment the token-level loss reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.data.benchmarks import load_benchmark, resolve_data_pattern
from polyglot.data.prompts import build_prompt, render_prompt
from polyglot.data.schemas import render_schema
from polyglot.distill.recipe import ParallelData
from polyglot.files import read_jsonl_objects
from polyglot.train.packing import encode_examples


@dataclass(frozen=True)
class Pair:
    id: str
    lang: str  # the student's language
    teacher_prompt: str
    student_prompt: str
    response: str
    answer: float


def load_parallel(data: ParallelData):
    """The aligned items in the teacher's and the student's languages (a ``ParallelDataset``):
    a missing language file, an item without a version in every language or with different
    answers is an error naming it."""

    if data.benchmark is not None:
        languages = list(dict.fromkeys([data.teacher_language, *data.languages]))
        return load_benchmark(data.benchmark, languages, limit=data.limit)
    pattern = data.resolved()
    if "{lang}" not in pattern:
        raise ConfigError(f"data.path {data.path}: needs {{lang}} (one file per language)")
    languages = list(dict.fromkeys([data.teacher_language, *data.languages]))
    for lang in languages:
        path = Path(resolve_data_pattern(pattern, lang, "train"))
        if not path.is_file():
            missing_testbed = data.path == "testbed" and not path.parent.is_dir()
            hint = " (build it: `polyglot testbed build`)" if missing_testbed else ""
            raise ConfigError(f"data.path: no '{lang}' file: {path}{hint}")
    return load_benchmark(
        "custom", languages, data=resolve_data_pattern(pattern, "{lang}", "train"), columns={"id": "id"},
        limit=data.limit,
    )  # fmt: skip


def gold_responses(data: ParallelData, ids: list[str]) -> dict[str, str]:
    """``response_field`` of each item, from the response language's file."""

    lang = data.response_language or data.teacher_language
    path = Path(resolve_data_pattern(data.resolved(), lang, "train"))
    found = {}
    for number, row in read_jsonl_objects(path):
        if str(row.get("id")) in ids:
            value = row.get(data.response_field)
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(
                    f"{path}:{number}: no text in field '{data.response_field}' "
                    "(data.response_field)"
                )
            found[str(row["id"])] = value
    missing = [i for i in ids if i not in found]
    if missing:
        raise ConfigError(f"{path}: no '{data.response_field}' for items {missing[:5]}")
    return found


def prompt_text(example, mode: str) -> str:
    """The prompt ``polyglot eval`` gives this item (0-shot), so what is trained is evaluated."""

    return render_prompt(build_prompt(example, None, mode, 0))  # type: ignore[arg-type]


def make_pairs(dataset, responses: dict[str, str], data: ParallelData, mode: str,
               same_prompt: bool = False, schema: str = "english-cot") -> list[Pair]:  # fmt: skip
    """One pair per item and student language (items without a response left out); the
    response rendered in ``schema`` for the student's language (``polyglot data build``'s
    schemas: english-cot as it is, mixed, code-switch)."""
    import random

    testbed = data.benchmark is None and data.path == "testbed"
    pairs = []
    for lang in data.languages:
        rng = random.Random(f"{lang}/code-switch")
        for item_id in dataset.ids:
            if item_id not in responses:
                continue
            student = dataset.get(item_id, lang)
            teacher = student if same_prompt else dataset.get(item_id, data.teacher_language)
            response = responses[item_id].strip()
            if schema != "english-cot":
                response = render_schema(schema, lang, {"en": response}, student.answer_value,
                                         rng=rng, testbed=testbed) or response  # fmt: skip
            pairs.append(
                Pair(
                    item_id,
                    lang,
                    prompt_text(teacher, mode),
                    prompt_text(student, mode),
                    " " + response,
                    student.answer_value,
                )  # fmt: skip
            )
    return pairs


def encode_pairs(tokenizer, pairs: list[Pair], max_length: int) -> tuple[dict[str, list], int]:
    """Dataset columns: ``student_ids``/``student_labels``, ``teacher_ids``/``teacher_labels``,
    ``index`` (the row number); the response cut to fit ``max_length`` in both sequences
    (counted)."""

    teacher, _ = encode_examples(tokenizer, [(p.teacher_prompt, p.response) for p in pairs])
    student, _ = encode_examples(tokenizer, [(p.student_prompt, p.response) for p in pairs])
    columns: dict[str, list] = {k: [] for k in ("student_ids", "student_labels", "teacher_ids",
                                                "teacher_labels", "index")}  # fmt: skip
    cut = 0
    for t, s in zip(teacher, student, strict=True):
        t_prompt = sum(label == -100 for label in t["labels"])
        s_prompt = sum(label == -100 for label in s["labels"])
        response = len(t["input_ids"]) - t_prompt
        keep = min(response, max_length - max(t_prompt, s_prompt))
        if keep < 1:
            cut += 1
            continue  # a prompt alone fills max_length: nothing to learn from this pair
        cut += keep < response
        columns["teacher_ids"].append(t["input_ids"][: t_prompt + keep])
        columns["teacher_labels"].append(t["labels"][: t_prompt + keep])
        columns["student_ids"].append(s["input_ids"][: s_prompt + keep])
        columns["student_labels"].append(s["labels"][: s_prompt + keep])
        columns["index"].append(len(columns["index"]))  # the row number (teacher cache)
    return columns, cut


def response_positions(labels):
    """The positions whose logits predict a response token (``labels[:, 1:] != -100``), as a
    boolean mask over ``logits[:, :-1]``."""
    return labels[:, 1:] != -100


def check_vocabularies(teacher_tokenizer, student_tokenizer, teacher_vocab: int,
                       student_vocab: int) -> int:  # fmt: skip
    """The number of leading logits both models share: the whole vocabulary when they are the
    same, the tokenizer's real tokens when one model pads its embedding (152064 vs 151936 ids).
    Different tokenizers are refused: the same id would be a different token."""
    t_vocab, s_vocab = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    if t_vocab != s_vocab:
        differing = sorted(set(t_vocab.items()) ^ set(s_vocab.items()), key=str)[:1]
        example = ""
        if differing:
            token = differing[0][0]
            example = (
                f" (e.g. {token!r} is id {t_vocab.get(token)} for the teacher, "
                f"{s_vocab.get(token)} for the student)"
            )
        raise ConfigError(
            "teacher and student tokenizers differ" + example + ": token-level distillation "
            "would compare different tokens. Use level: sequence (the student learns the "
            "teacher's text), or a teacher and student of one tokenizer"
        )
    real = max(t_vocab.values()) + 1
    if teacher_vocab == student_vocab:
        return student_vocab
    if min(teacher_vocab, student_vocab) < real:
        raise ConfigError(
            f"teacher ({teacher_vocab} logits) or student ({student_vocab}) has fewer logits "
            f"than its tokenizer's {real} tokens"
        )
    return real  # padded ids beyond the real tokens are dropped from both
