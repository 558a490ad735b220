"""``vllm:MODEL`` / ``hf:MODEL``: an instruction model (any chat checkpoint, local or a hub id)
translates, through the vLLM or the hf generation backend: one user turn asking for the
translation only, rendered with the model's chat template (a plain ``<Language>: text`` /
``<Target>:`` prompt when it has none), greedy, cut at the end of the translation."""

from __future__ import annotations

from polyglot.generation.base import GenerationSettings, Request
from polyglot.generation.engine import result_engine
from polyglot.generation.loop import generate_missing
from polyglot.generation.registry import load_backend
from polyglot.packs import load_pack
from polyglot.provenance import model_identity
from polyglot.text.thinking import DEFAULT_TAGS
from polyglot.translate.base import TRANSLATORS, TranslatorKind

REQUEST = (
    "Translate the following {source} text into {target}. Reply with the translation only, "
    "nothing else.\n\n{text}"
)


@TRANSLATORS.register("hf")
@TRANSLATORS.register("vllm")
class InstructionTranslator(TranslatorKind):
    usage = "vllm:MODEL or hf:MODEL (an instruction model)"
    takes_argument = True

    @classmethod
    def from_spec(cls, name, argument, context):
        """On the backend ``name``, sharing the run's device, dtype and batch sizes; the
        evaluated model's own engine when it is the translator too."""
        settings, backend = context.settings, context.backend
        shared = {} if settings is None else settings.model_dump(
            include={"device", "dtype", "batch_size", "batch_tokens", "seed"}
        )  # fmt: skip
        if name == "vllm" and settings is not None and getattr(settings, "backend", None) == "vllm":
            # a vLLM translator spans the evaluated engine's GPUs the same way; beside it, each
            # engine takes --gpu-memory-utilization of the GPUs (one replica: translation is
            # short). engine_args and the context are the evaluated model's own: not passed on.
            shared.update(settings.model_dump(include={
                "tensor_parallel_size", "pipeline_parallel_size", "gpu_memory_utilization",
                "enforce_eager"}))  # fmt: skip
        own = GenerationSettings(model=argument, backend=name, **shared)
        same_engine = (
            backend is not None
            and settings is not None
            and (settings.backend, settings.model, settings.adapter) == (name, argument, None)
            and settings.temperature == 0
        )  # the evaluated model translates: its engine is reused (one vLLM engine per GPU)
        return cls(own, backend if same_engine else None)

    def __init__(self, settings, backend=None):
        """``settings``: the ``GenerationSettings`` of the translating model; ``backend``: an
        engine already serving that model (the evaluated one, when it is the translator too:
        one vLLM engine, not two on one GPU)."""

        self.settings = settings
        self.owns_backend = backend is None
        self.backend = backend or load_backend(settings)
        self.tokenizer = getattr(self.backend, "tokenizer", None)
        self.spent: dict[str, int] = {}  # generated tokens per translated key (cost)

    def close(self) -> None:
        """Stop its own engine's replicas, if any (an engine it shares is its owner's)."""
        close = getattr(self.backend, "close", None)
        if self.owns_backend and callable(close):
            close()

    def identity(self) -> dict:

        # the engine's own settings (a shared engine: the evaluated run's token limit)
        used = getattr(self.backend, "settings", None) or self.settings

        return {"name": self.settings.backend, "model": model_identity(self.settings.model),
                "max_new_tokens": used.max_new_tokens, "temperature": used.temperature,
                "seed": used.seed, **result_engine(used)}  # fmt: skip

    def check(self, sources: list[str], target: str = "en") -> None:

        for lang in [*sources, target]:
            load_pack(lang)

    def prompt(self, lang: str, text: str, target: str = "en") -> tuple[str, list[str]]:
        """The prompt and its stop strings."""

        source, goal = load_pack(lang).name, load_pack(target).name
        if self.tokenizer is not None and getattr(self.tokenizer, "chat_template", None):
            content = REQUEST.format(source=source, target=goal, text=text)
            # a reasoning model's thinking switch off (templates without one ignore it): the
            # translation, not a thinking block, is the answer
            rendered = self.tokenizer.apply_chat_template(
                [{"role": "user", "content": content}], tokenize=False,
                add_generation_prompt=True, enable_thinking=False,
            )  # fmt: skip
            return rendered, []  # the reply ends at the end of its turn
        return f"{source}: {text}\n{goal}:", ["\n"]

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:

        requests = []
        for key, lang, text in items:
            prompt, stop = self.prompt(lang, text, target)
            requests.append(Request(key, prompt, stop))
        texts = {}
        for generations in generate_missing(self.backend, requests):
            for g in generations:
                texts[g.key] = " ".join(_without_thinking(g.outputs[0]).split())
                self.spent[g.key] = int(g.new_tokens[0]) if g.new_tokens else 0
        return texts


def _without_thinking(text: str) -> str:
    """The text after a closed thinking block (a model that thinks anyway), else the text."""

    closing = DEFAULT_TAGS[1]
    return text.split(closing, 1)[1] if closing in text else text
