"""``hf-seq2seq:MODEL``: a transformers sequence-to-sequence MT checkpoint (NLLB, M2M100,
Marian/OPUS-MT), local or a hub id, with each language's code read from its pack's
``mt_codes``: NLLB and M2M100 set the tokenizer's source language and force the target
language's token first; a Marian model reads the source it was trained on (a bilingual xx-en
or a mul-en checkpoint) and writes its target, led by the pack's ``>>xxx<<`` token when it is
a multilingual-target model.
Greedy or beam search, in batches sorted by length."""

from __future__ import annotations

import warnings

from polyglot.config import ConfigError
from polyglot.models import (
    check_local_model,
    first_line,
    load_tokenizer,
    not_local_hint,
    pick_device,
    quiet_transformers,
)
from polyglot.packs import load_pack
from polyglot.provenance import model_identity
from polyglot.translate.base import TRANSLATORS, TranslatorKind


def family(config, tokenizer) -> str:
    """nllb, m2m100 or marian, from the checkpoint's config and tokenizer."""
    kind = getattr(config, "model_type", "")
    if kind == "marian":
        return "marian"
    if kind == "m2m_100":  # NLLB uses M2M100's architecture with its own tokenizer
        return "nllb" if "Nllb" in type(tokenizer).__name__ else "m2m100"
    raise ConfigError(
        f"--translator hf-seq2seq: a '{kind}' checkpoint; polyglot knows the language codes of "
        "NLLB, M2M100 and Marian (OPUS-MT) checkpoints"
    )


@TRANSLATORS.register("hf-seq2seq")
class Seq2SeqTranslator(TranslatorKind):
    usage = "hf-seq2seq:MODEL (NLLB, M2M100, Marian)"
    takes_argument = True

    @classmethod
    def from_spec(cls, name, argument, context):
        settings = context.settings
        device = getattr(settings, "device", "auto")
        batch_size = min(getattr(settings, "batch_size", 16), 32)
        return cls(argument, device=device, batch_size=batch_size)

    def __init__(
        self,
        model: str,
        *,
        device: str = "auto",
        batch_size: int = 16,
        max_new_tokens: int = 256,
        num_beams: int = 1,
    ):
        from transformers import AutoModelForSeq2SeqLM

        check_local_model(model)
        # MarianTokenizer asks for sacremoses, which only its detokenizer of some models uses
        warnings.filterwarnings("ignore", message=".*pip install sacremoses.*")
        self.model_name = model
        self.tokenizer = load_tokenizer(model, padding_side=None)
        self.device = pick_device(device)
        try:
            with quiet_transformers():
                self.model = AutoModelForSeq2SeqLM.from_pretrained(model).to(self.device).eval()
        except Exception as err:  # noqa: BLE001 - missing or damaged files, unknown architecture
            raise ConfigError(
                f"--translator hf-seq2seq: could not load '{model}'{not_local_hint(model)}: "
                f"{first_line(err)}"
            ) from None
        self.family = family(self.model.config, self.tokenizer)
        self.batch_size, self.max_new_tokens, self.num_beams = batch_size, max_new_tokens, num_beams
        self.spent: dict[str, int] = {}  # generated tokens per translated key (cost)

    def identity(self) -> dict:
        return {"name": "hf-seq2seq", "model": model_identity(self.model_name),
                "num_beams": self.num_beams, "max_new_tokens": self.max_new_tokens}  # fmt: skip

    def code(self, lang: str) -> str:
        """The language's code for this checkpoint (NLLB, M2M100), checked in its tokenizer."""

        pack = load_pack(lang)
        code = pack.mt_codes.get(self.family)
        if code is None:
            raise ConfigError(
                f"--translator hf-seq2seq:{self.model_name}: the '{lang}' language pack has no "
                f"{self.family} code (mt_codes.{self.family} in its file)"
            )
        token = code if self.family == "nllb" else f"__{code}__"
        if self.tokenizer.convert_tokens_to_ids(token) in (None, self.tokenizer.unk_token_id):
            raise ConfigError(
                f"--translator hf-seq2seq:{self.model_name}: its tokenizer has no '{token}' "
                f"token for '{lang}'"
            )
        return code

    def marian_prefix(self, target: str) -> str:
        """A multilingual OPUS-MT model's ``>>xxx<<`` target token (from the pack), or nothing:
        into English, and for a bilingual checkpoint (no such token), it translates as trained."""

        if target == "en":
            return ""
        code = load_pack(target).mt_codes.get("marian")
        token = f">>{code}<<" if code else None
        if token and token in self.tokenizer.get_vocab():
            return token + " "
        if any(t.startswith(">>") and t.endswith("<<") for t in self.tokenizer.get_vocab()):
            raise ConfigError(
                f"--translator hf-seq2seq:{self.model_name}: a multilingual Marian model without "
                f"a target token for '{target}' (mt_codes.marian: {code})"
            )
        return ""

    def check(self, sources: list[str], target: str = "en") -> None:
        """Every language's code, before any generation (a Marian model reads the source it was
        trained on: only a multilingual one's target token is checked)."""
        if self.family == "marian":
            self.marian_prefix(target)
            return
        for lang in [*sources, target]:
            self.code(lang)

    def _target_token_id(self, target: str) -> int | None:
        if self.family == "marian":
            return None
        code = self.code(target)
        return self.tokenizer.convert_tokens_to_ids(
            code if self.family == "nllb" else f"__{code}__"
        )

    def translate(self, items: list[tuple[str, str, str]], target: str = "en") -> dict[str, str]:
        import torch

        self.check(sorted({lang for _, lang, _ in items}), target)
        forced = self._target_token_id(target)
        texts: dict[str, str] = {}
        by_source: dict[str, list[tuple[str, str]]] = {}
        for key, lang, text in items:
            by_source.setdefault(lang, []).append((key, text))
        for lang, rows in by_source.items():
            if self.family in ("nllb", "m2m100"):
                self.tokenizer.src_lang = self.code(lang)
            else:  # a multilingual Marian model: the target's token leads the input
                prefix = self.marian_prefix(target)
                rows = [(key, prefix + text) for key, text in rows]
            rows = sorted(rows, key=lambda row: len(row[1]))  # similar lengths batch together
            for start in range(0, len(rows), self.batch_size):
                batch = rows[start : start + self.batch_size]
                encoded = self.tokenizer(
                    [text for _, text in batch], return_tensors="pt", padding=True, truncation=True
                ).to(self.device)
                options = {"forced_bos_token_id": forced} if forced is not None else {}
                with torch.no_grad():
                    generated = self.model.generate(
                        **encoded, max_new_tokens=self.max_new_tokens, num_beams=self.num_beams,
                        do_sample=False, **options,
                    )  # fmt: skip
                # the forced target-language token is not part of the translation
                rows_ids = [[i for i in row if i != forced] for row in generated.tolist()]
                decoded = self.tokenizer.batch_decode(rows_ids, skip_special_tokens=True)
                specials = set(self.tokenizer.all_special_ids)
                for (key, _), text, ids in zip(batch, decoded, rows_ids, strict=True):
                    texts[key] = " ".join(text.split())
                    self.spent[key] = sum(i not in specials for i in ids)
        return texts
