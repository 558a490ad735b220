"""Reasoning models' thinking blocks: ``<think>…</think>`` before the answer.

Reasoning models (Qwen3, DeepSeek-R1 distills) think inside a block, often in English whatever
the question's language, and answer after it. The answer is read from the text after the block;
the thinking is kept apart (its language is measured on its own). The delimiters are data:
``<think>``/``</think>`` by default, others set in the eval config.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TAGS = ("<think>", "</think>")
# other delimiters models declare in their chat templates or vocabularies ("auto" looks for
# each closing tag): Claude-style and open reasoning datasets, Kimi, OpenThoughts / Bespoke
KNOWN_TAGS = (
    DEFAULT_TAGS,
    ("<thinking>", "</thinking>"),
    ("<reasoning>", "</reasoning>"),
    ("◁think▷", "◁/think▷"),
    ("<|begin_of_thought|>", "<|end_of_thought|>"),
)


@dataclass(frozen=True)
class ThinkingSplit:
    thinking: str | None  # None: the output has no thinking block
    answer: str  # the text after the (last) block: where the answer is read
    finished: bool = True  # False: the block never closed (the output was cut off inside it)


def split_thinking(
    output: str, tags: tuple[str, str] = DEFAULT_TAGS, *, opened: bool = False
) -> ThinkingSplit:
    """Split ``output`` at its thinking block. ``opened``: the prompt itself ended with the
    opening tag (DeepSeek-R1 templates do), so the output starts inside the block.

    Repeated or nested blocks: everything up to the last closing tag is thinking. A block that
    never closes: all of it is thinking, there is no answer, and ``finished`` is False.
    """
    start_tag, end_tag = tags
    end = output.rfind(end_tag)
    if end != -1:
        thinking = output[:end].replace(start_tag, "").replace(end_tag, "")
        return ThinkingSplit(thinking.strip(), output[end + len(end_tag) :].strip())
    start = output.find(start_tag)
    if start != -1:
        return ThinkingSplit(output[start + len(start_tag) :].strip(), "", finished=False)
    if opened:
        return ThinkingSplit(output.strip(), "", finished=False)
    return ThinkingSplit(None, output)
