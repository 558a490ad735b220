"""Training examples from the recipe's data sources, rendered as (prompt, response) pairs.

Records a source may hold (JSONL lines or ``datasets`` rows):

- ``{"messages": [{"role": "user", "content": ...}, {"role": "assistant", "content": ...}],
  "lang": "sw"}`` — the schema ``polyglot data build`` writes (``docs/data.md``); the last
  assistant message is the response, the rest is the prompt;
- ``{"prompt": ..., "response": ...}`` — used as they are;
- ``{"text": ...}`` — plain text (a language expert's general text): loss on every token.

With ``format: prompt``, a single-turn messages record is rendered exactly as ``polyglot eval``
prompts the question (its language's labels, the recipe's ``prompt_mode``, 0-shot), so what is
trained is what is evaluated; with ``format: chat``, through the tokenizer's chat template.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from polyglot.config import ConfigError, validate_model
from polyglot.data.build import DataBuildConfig, build_dataset
from polyglot.data.prompts import eval_prompt
from polyglot.files import read_jsonl_objects
from polyglot.train.recipe import DataSource, TrainRecipe


@dataclass
class SourceStats:
    label: str
    records: int = 0
    kept: int = 0
    bad_lines: int = 0
    used: int = 0


def _records_from_file(path: Path, skip_bad: bool, stats: SourceStats) -> list[tuple[str, dict]]:
    """(where, record) for every line of a JSONL file; a bad line is an error naming the file
    and line, or is counted and skipped with ``skip_bad``."""
    if path.is_dir():
        built = path / "data.jsonl"
        if not built.is_file():
            raise ConfigError(
                f"{path}: a folder without data.jsonl (expected a JSONL file or a dataset "
                "built by `polyglot data build`)"
            )
        path = built
    if not path.exists():
        raise ConfigError(f"{path}: no such file")
    skipped: list[str] | None = [] if skip_bad else None
    records = read_jsonl_objects(path, skipped)
    stats.bad_lines += len(skipped or [])
    return [(f"{path}:{number}", record) for number, record in records]


def _records_from_dataset(source: DataSource) -> list[tuple[str, dict]]:
    from datasets import load_dataset, load_from_disk

    try:
        if Path(source.dataset).is_dir():
            loaded = load_from_disk(source.dataset)
            rows = loaded[source.split] if hasattr(loaded, "keys") else loaded
        else:
            rows = load_dataset(source.dataset, source.subset, split=source.split)
    except Exception as err:  # noqa: BLE001 - no network, unknown id, missing split
        raise ConfigError(
            f"data source '{source.dataset}' (split {source.split}): could not load it: "
            f"{str(err).splitlines()[0] if str(err) else type(err).__name__}"
        ) from None
    return [(f"{source.dataset}[{i}]", dict(row)) for i, row in enumerate(rows)]


def _pair(
    where: str, record: dict, recipe: TrainRecipe, tokenizer, source: DataSource
) -> tuple[str, str, str]:
    """(language, prompt, response) of one record."""
    lang = record.get("lang") or ""
    if source.response_field is not None:
        missing = [
            f
            for f in (source.question_field, source.response_field)
            if not isinstance(record.get(f), str) or not record[f].strip()
        ]
        if missing:
            raise ConfigError(f"{where}: no text in field {', '.join(repr(m) for m in missing)}")
        record = {
            "lang": lang,
            "messages": [
                {"role": "user", "content": str(record[source.question_field])},
                {"role": "assistant", "content": str(record[source.response_field])},
            ],
        }
    if "text" in record and "messages" not in record:
        if not isinstance(record["text"], str) or not record["text"].strip():
            raise ConfigError(f"{where}: 'text' must be a non-empty string")
        return lang, "", record["text"]
    if "prompt" in record and "response" in record:
        if not isinstance(record["prompt"], str) or not isinstance(record["response"], str):
            raise ConfigError(f"{where}: 'prompt' and 'response' must be strings")
        if not record["response"].strip():
            raise ConfigError(f"{where}: 'response' is empty")
        return lang, record["prompt"], record["response"]
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ConfigError(
            f"{where}: a record needs 'messages', 'prompt' and 'response', or 'text' "
            f"(it has {', '.join(sorted(record)) or 'nothing'}); see docs/data.md"
        )
    if not all(
        isinstance(m, dict) and {"role", "content"} <= set(m) and isinstance(m["content"], str)
        for m in messages
    ):
        raise ConfigError(f"{where}: every message needs 'role' and a 'content' string")
    if not messages[-1]["content"].strip():
        raise ConfigError(f"{where}: the assistant's response is empty")
    if messages[-1]["role"] != "assistant":
        raise ConfigError(f"{where}: the last message must be the assistant's (the response)")
    context, response = messages[:-1], messages[-1]["content"]
    if recipe.format == "chat":
        if not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                f"format: chat, but the tokenizer of '{recipe.base}' has no chat template; "
                "use format: prompt"
            )
        prompt = tokenizer.apply_chat_template(context, tokenize=False, add_generation_prompt=True)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        if not full.startswith(prompt):
            raise ConfigError(f"{where}: the chat template does not extend the prompt")
        return lang, prompt, full[len(prompt) :]
    if len(context) != 1 or context[0]["role"] != "user":
        raise ConfigError(
            f"{where}: format: prompt renders one user question and one answer; use "
            "format: chat for other conversations"
        )
    if not lang:
        raise ConfigError(f"{where}: format: prompt needs the record's 'lang' (its prompt labels)")
    return lang, eval_prompt(context[0]["content"], lang, recipe.prompt_mode), " " + response


def build_sources(recipe: TrainRecipe, out: Path, log=print, *, skip_bad: bool = False) -> None:
    """Build the recipe's ``build`` sources into ``out/_data/source-<i>`` (reused while their
    config is unchanged)."""

    for index, source in enumerate(recipe.data):
        if source.build is None:
            continue
        folder = out / "_data" / f"source-{index}"
        config = validate_model(
            {**source.build, "out": str(folder)}, DataBuildConfig, source=f"data.{index}.build"
        )
        build_dataset(config, rebuild_if_changed=True, progress=False, skip_bad=skip_bad, log=log)


def load_examples(
    recipe: TrainRecipe, tokenizer, *, skip_bad: bool = False, out: Path | None = None
) -> tuple[list[tuple[str, str]], list[SourceStats]]:
    """Every source's examples as (prompt, response) pairs, weighted and shuffled by the
    recipe's seed; and per-source counts. ``out``: where ``build`` sources were built."""
    rng = random.Random(recipe.training.seed)
    examples: list[tuple[str, str]] = []
    stats = []
    for index, source in enumerate(recipe.data):
        stat = SourceStats(source.label())
        if source.build is not None:
            built = Path(out or recipe.out) / "_data" / f"source-{index}"
            records = _records_from_file(built, skip_bad, stat)
        elif source.path is not None:
            records = _records_from_file(Path(source.path), skip_bad, stat)
        else:
            records = _records_from_dataset(source)
        stat.records = len(records)
        pairs = []
        for where, record in records:
            lang, prompt, response = _pair(where, record, recipe, tokenizer, source)
            if source.languages and lang not in source.languages:
                continue
            if recipe.loss == "all":
                prompt, response = "", prompt + response
            pairs.append((prompt, response))
        if source.limit:
            pairs = pairs[: source.limit]
        stat.kept = len(pairs)
        if not pairs:
            wanted = f" in {', '.join(source.languages)}" if source.languages else ""
            raise ConfigError(f"data source '{source.label()}': no examples{wanted}")
        whole, part = int(source.weight), source.weight - int(source.weight)
        chosen = pairs * whole + rng.sample(pairs, round(part * len(pairs)))
        if not chosen:
            raise ConfigError(
                f"data source '{source.label()}': weight {source.weight} of {len(pairs)} "
                "examples is none; raise the weight"
            )
        stat.used = len(chosen)
        examples += chosen
        stats.append(stat)
    rng.shuffle(examples)
    return examples, stats
