"""Translators that load their own model: ``hf-seq2seq`` on tiny M2M100 and NLLB checkpoints
built here (the language codes from the packs reach the tokenizer and ``generate``), and the
instruction-model translator on the hf backend."""

from __future__ import annotations

import io
import json

import pytest
import torch
from typer.testing import CliRunner

from polyglot.cli.main import app
from polyglot.config import ConfigError

runner = CliRunner()
TEXT = ["Ana ana matufaha 3 na ananunua 4 zaidi.", "Ana has 3 apples and buys 4 more."] * 10


def _tiny_seq2seq(tokenizer, out, vocab_size: int):
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    config = M2M100Config(
        vocab_size=vocab_size, d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    M2M100ForConditionalGeneration(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def m2m(tmp_path_factory):
    """A 1-layer M2M100 with a sentencepiece vocabulary trained here (its __xx__ codes)."""
    import sentencepiece as spm
    from transformers import M2M100Tokenizer

    out = tmp_path_factory.mktemp("m2m")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT), model_writer=model, vocab_size=300, model_type="bpe",
        byte_fallback=True, bos_id=0, pad_id=1, eos_id=2, unk_id=3, minloglevel=2,
    )  # fmt: skip
    (out / "sentencepiece.bpe.model").write_bytes(model.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    (out / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = M2M100Tokenizer(str(out / "vocab.json"), str(out / "sentencepiece.bpe.model"))
    # the language codes and M2M100's made-up words follow the vocabulary
    return _tiny_seq2seq(tokenizer, out, max(tokenizer.lang_token_to_id.values()) + 9)


@pytest.fixture(scope="module")
def nllb(tmp_path_factory):
    """A 1-layer NLLB-style checkpoint (M2M100 architecture, NLLB tokenizer: FLORES codes)."""
    from transformers import NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for char in "abcdefghijklmnopqrstuvwxyz▁ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,":
        vocab[char] = len(vocab)
    tokenizer = NllbTokenizer(vocab=vocab, merges=[])
    return _tiny_seq2seq(tokenizer, tmp_path_factory.mktemp("nllb"), len(tokenizer))


@pytest.fixture(scope="module")
def marian(tmp_path_factory):
    """A 1-layer multilingual-target Marian model (its >>deu<< and >>swh<< target tokens)."""
    import sentencepiece as spm
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    out = tmp_path_factory.mktemp("marian")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(TEXT), model_writer=model, vocab_size=300, model_type="bpe",
        byte_fallback=True, bos_id=-1, pad_id=0, eos_id=1, unk_id=2, minloglevel=2,
    )  # fmt: skip
    for name in ("source.spm", "target.spm"):
        (out / name).write_bytes(model.getvalue())
    pieces = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = {pieces.id_to_piece(i): i for i in range(pieces.get_piece_size())}
    for token in (">>deu<<", ">>swh<<"):
        vocab[token] = len(vocab)
    (out / "vocab.json").write_text(json.dumps(vocab))
    tokenizer = MarianTokenizer(str(out / "source.spm"), str(out / "target.spm"),
                                str(out / "vocab.json"))  # fmt: skip
    tokenizer.save_pretrained(out)
    config = MarianConfig(
        vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
        decoder_ffn_dim=32, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    MarianMTModel(config).save_pretrained(out)
    return out


def test_marian_reads_its_source_and_leads_with_the_target_token(marian):
    from polyglot.translate.seq2seq import Seq2SeqTranslator

    translator = Seq2SeqTranslator(str(marian), device="cpu")
    translator.max_new_tokens = 4
    assert translator.family == "marian"
    calls = _recording(translator)
    translator.check(["sw", "te"])  # into English: no code needed for any source
    translator.translate([("sw/1", "sw", "Ana ana 3.")])
    deu = translator.tokenizer.convert_tokens_to_ids(">>deu<<")
    assert deu not in calls[-1]["input_ids"][0].tolist()
    assert "forced_bos_token_id" not in calls[-1]
    translator.translate([("en/1", "en", "Ana has 3.")], target="de")
    assert calls[-1]["input_ids"][0].tolist()[0] == deu  # >>deu<< leads the input
    with pytest.raises(ConfigError, match="without a target token for 'th'"):
        translator.check(["en"], "th")


def _recording(translator):
    """Wrap the model's generate to record what reached it."""
    calls = []
    generate = translator.model.generate

    def recorded(**kwargs):
        calls.append(kwargs)
        return generate(**kwargs)

    translator.model.generate = recorded
    return calls


@pytest.mark.parametrize(
    ("fixture", "family", "source", "target"),
    [("m2m", "m2m100", "__sw__", "__en__"), ("nllb", "nllb", "swh_Latn", "eng_Latn")],
)
def test_seq2seq_uses_the_packs_language_codes(request, fixture, family, source, target):
    from polyglot.translate.seq2seq import Seq2SeqTranslator

    translator = Seq2SeqTranslator(str(request.getfixturevalue(fixture)), device="cpu")
    translator.max_new_tokens = 6
    assert translator.family == family
    calls = _recording(translator)
    items = [("sw/1", "sw", "Ana ana matufaha 3."), ("sw/2", "sw", "Ana ana 4.")]
    texts = translator.translate(items)
    assert set(texts) == {"sw/1", "sw/2"} and all(isinstance(t, str) for t in texts.values())
    tokenizer = translator.tokenizer
    (call,) = calls  # one batch
    assert call["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids(target)
    assert tokenizer.convert_tokens_to_ids(source) in call["input_ids"][0].tolist()
    # into German: the German code is forced instead
    translator.translate([("sw/1", "sw", "Ana ana 3.")], target="de")
    german = "__de__" if family == "m2m100" else "deu_Latn"
    assert calls[-1]["forced_bos_token_id"] == tokenizer.convert_tokens_to_ids(german)
    # Telugu has an NLLB code and no M2M100 one
    if family == "m2m100":
        with pytest.raises(ConfigError, match="'te' language pack has no m2m100 code"):
            translator.check(["te"])
    else:
        translator.check(["te"])


def test_a_language_without_a_code_is_refused_before_any_generation(
    in_testbed, m2m, tmp_path, monkeypatch
):
    from polyglot import packs
    from polyglot.translate import seq2seq

    real = packs.load_pack

    def without_swahili_code(code):
        pack = real(code)
        return pack.model_copy(update={"mt_codes": {}}) if code == "sw" else pack

    monkeypatch.setattr(seq2seq, "load_pack", without_swahili_code)
    out = tmp_path / "run"
    result = runner.invoke(
        app,
        ["eval", "--model", str(in_testbed / "base"), "--benchmark", "testbed", "--languages",
         "en,sw", "--limit", "2", "--strategy", "translate-all", "--translator",
         f"hf-seq2seq:{m2m}", "--out", str(out), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "'sw' language pack has no m2m100 code" in result.output
    assert not (out / "generations.jsonl").exists()


def test_translate_all_with_an_mt_checkpoint_caches_and_scores(in_testbed, m2m, tmp_path):
    out = tmp_path / "mt"
    args = ["eval", "--model", str(in_testbed / "base"), "--benchmark", "testbed",
            "--languages", "en,sw", "--limit", "2", "--max-new-tokens", "8", "--strategy",
            "translate-all", "--translator", f"hf-seq2seq:{m2m}", "--out", str(out),
            "--no-progress"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    head = json.loads((out / "translations.jsonl").read_text().splitlines()[0])["translator"]
    assert head["name"] == "hf-seq2seq" and head["model"]["fingerprint"]
    figures = json.loads((out / "results.json").read_text())["languages"]["sw"]["translation"]
    assert figures["translated"] == 2 and 0 <= figures["chrf"] < 100  # an untrained model
    again = runner.invoke(app, args)  # finished: reused, nothing translated again
    assert again.exit_code == 0 and len((out / "translations.jsonl").read_text().splitlines()) == 3


def test_an_instruction_model_translates_through_a_backend(in_testbed):
    from polyglot.generation.base import GenerationSettings
    from polyglot.translate.instruct import InstructionTranslator

    translator = InstructionTranslator(
        GenerationSettings(model=str(in_testbed / "base"), device="cpu", max_new_tokens=6)
    )
    prompt, stop = translator.prompt("sw", "Ana ana 3.", "en")
    assert (prompt, stop) == ("Swahili: Ana ana 3.\nEnglish:", ["\n"])  # no chat template
    texts = translator.translate([("sw/1", "sw", "Ana ana 3."), ("sw/2", "sw", "Ana.")])
    assert set(texts) == {"sw/1", "sw/2"} and all("\n" not in t for t in texts.values())
    assert translator.identity()["name"] == "hf"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("hf-seq2seq:", "hf-seq2seq: give hf-seq2seq:MODEL"),
        ("vllm", "vllm: give vllm:MODEL"),
        ("deepl", "deepl: one of clp, "),
    ],
)
def test_bad_translator_specs_are_one_line(in_testbed, tmp_path, spec, message):
    result = runner.invoke(
        app,
        ["eval", "--model", str(in_testbed / "base"), "--benchmark", "testbed", "--strategy",
         "translate-all", "--translator", spec, "--out", str(tmp_path / "x"), "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 2 and message in result.output, result.output


def test_overwrite_with_a_translator_that_cannot_run_keeps_the_finished_run(
    in_testbed, m2m, tmp_path, monkeypatch
):
    from polyglot import packs
    from polyglot.translate import seq2seq

    out = tmp_path / "kept"
    args = ["eval", "--model", str(in_testbed / "base"), "--benchmark", "testbed",
            "--languages", "en,sw", "--limit", "2", "--max-new-tokens", "8", "--strategy",
            "translate-all", "--out", str(out), "--no-progress"]  # fmt: skip
    assert runner.invoke(app, [*args, "--translator", "reference"]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    real = packs.load_pack
    monkeypatch.setattr(seq2seq, "load_pack", lambda code: real(code).model_copy(
        update={"mt_codes": {}}) if code == "sw" else real(code))  # fmt: skip
    result = runner.invoke(app, [*args, "--translator", f"hf-seq2seq:{m2m}", "--overwrite"])
    assert result.exit_code == 2 and "no m2m100 code" in result.output
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before


def test_an_overwritten_run_keeps_the_same_translators_cache(in_testbed, m2m, tmp_path,
                                                             monkeypatch):  # fmt: skip
    from polyglot.translate.seq2seq import Seq2SeqTranslator

    out = tmp_path / "mt"
    args = ["eval", "--model", str(in_testbed / "base"), "--benchmark", "testbed",
            "--languages", "en,sw", "--limit", "2", "--max-new-tokens", "8", "--strategy",
            "translate-all", "--translator", f"hf-seq2seq:{m2m}", "--out", str(out),
            "--no-progress"]  # fmt: skip
    assert runner.invoke(app, args).exit_code == 0
    cache = (out / "translations.jsonl").read_text()

    def refuse(self, items, target="en"):
        raise AssertionError("translated again")

    monkeypatch.setattr(Seq2SeqTranslator, "translate", refuse)
    again = runner.invoke(app, [*args, "--overwrite"])  # regenerated, not retranslated
    assert again.exit_code == 0, again.output
    assert (out / "translations.jsonl").read_text() == cache


def test_translations_are_written_a_chunk_at_a_time(tmp_path):
    from polyglot.translate import TranslationCache

    class Failing:
        calls = 0

        def identity(self):
            return {"name": "failing"}

        def translate(self, items, target="en"):
            Failing.calls += 1
            if Failing.calls == 2:
                raise RuntimeError("killed")
            return {k: f"t{k}" for k, _, _ in items}

    items = [(f"sw/{i}", "sw", "q") for i in range(100)]
    cache = TranslationCache(tmp_path / "t.jsonl", Failing().identity())
    with pytest.raises(RuntimeError):
        cache.translate(Failing(), items)
    kept = TranslationCache(tmp_path / "t.jsonl", Failing().identity()).texts
    assert len(kept) == TranslationCache.chunk  # the first chunk survived the failure
