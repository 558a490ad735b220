"""Loading models and tokenizers: the one place every part of polyglot gets them from.

Generation backends, training, distillation and merging all call ``load_model`` /
``load_tokenizer``, so a local checkpoint or a hub id, a hub revision, a PEFT adapter, the
dtype, the device and the tokenizer's padding side are handled one way, with errors that name
the folder instead of a library traceback.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.files import read_json
from polyglot.provenance import looks_local

DTYPES = ("auto", "float32", "bfloat16", "float16")


def pick_device(requested: str = "auto") -> str:
    """ "auto": cuda when a GPU is there, else cpu; a CUDA device asked for must exist."""
    import torch

    if requested != "auto":
        if requested.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"device '{requested}' asked for, but no CUDA GPU is available")
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def pick_dtype(requested: str, device: str):
    """ "auto": bfloat16 on a GPU that supports it, else float32."""
    import torch

    if requested not in DTYPES:
        raise ConfigError(f"unknown dtype '{requested}'; use one of {', '.join(DTYPES)}")
    if requested == "auto":
        if device.startswith("cuda") and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    return getattr(torch, requested)


def check_local_model(model: str, what: str = "model") -> None:
    if not looks_local(model):
        return
    path = Path(model)
    if not path.exists():
        raise ConfigError(f"no {what} at '{model}' (not a directory)")
    if not path.is_dir():
        raise ConfigError(f"{what} '{model}' is a file; expected a checkpoint folder")
    if what == "model" and not (path / "config.json").exists():
        if (path / "adapter_config.json").is_file():
            raise ConfigError(
                f"'{model}' is a LoRA adapter, not a model: pass its base as the model and this "
                "folder as the adapter (polyglot eval --model BASE --adapter "
                f"{model}), or fold it in with `polyglot train merge-adapter`"
            )
        raise ConfigError(f"'{model}' is not a model checkpoint (no config.json in the folder)")


def not_local_hint(model: str) -> str:
    """For a name that was taken as a hub id: say that no local folder has it either."""
    return "" if looks_local(model) else f" (a hub id; no local folder '{model}' either)"


def first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


def load_tokenizer(model: str, *, revision: str | None = None, padding_side: str | None = "left"):
    """The checkpoint's tokenizer, with a pad token (EOS when it has none) on ``padding_side``
    ("left" for generation, "right" for training, None: as the checkpoint says)."""
    from transformers import AutoTokenizer

    check_local_model(model, "tokenizer")
    try:
        with quiet_transformers():
            tokenizer = AutoTokenizer.from_pretrained(model, revision=revision)
    except Exception as err:  # noqa: BLE001 - a damaged tokenizer file raises anything
        raise ConfigError(
            f"could not load the tokenizer of '{model}'{not_local_hint(model)}: {first_line(err)}"
        ) from None
    if padding_side is not None:
        tokenizer.padding_side = padding_side
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(
    model: str,
    *,
    adapter: str | None = None,
    merge_adapter: bool = True,
    revision: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    eval_mode: bool = True,
):
    """``AutoModelForCausalLM.from_pretrained`` on ``device`` in ``dtype`` (see ``pick_dtype``),
    plus a PEFT adapter (merged into the weights for speed unless ``merge_adapter`` is False)."""
    from transformers import AutoModelForCausalLM

    check_local_model(model)
    if adapter and not (Path(adapter) / "adapter_config.json").exists():
        raise ConfigError(f"no PEFT adapter at '{adapter}' (adapter_config.json missing)")
    device = pick_device(device)
    try:
        with quiet_transformers():
            loaded = AutoModelForCausalLM.from_pretrained(
                model, dtype=pick_dtype(dtype, device), revision=revision
            )
    except Exception as err:  # noqa: BLE001 - missing or damaged files, unknown architecture,
        # shapes that do not fit the config: each library raises its own kind
        raise ConfigError(
            f"could not load model '{model}'{not_local_hint(model)}: {first_line(err)}"
        ) from None
    if adapter:
        loaded = attach_adapter(loaded, adapter, model, merge=merge_adapter)
    loaded.to(device)
    if eval_mode:
        loaded.eval()
    return loaded


@contextmanager
def quiet_transformers():
    """No "Loading weights" / "Writing model shards" bars and no library warnings on the
    terminal while loading, saving or training: they say nothing a user needs and turn a
    one-line error into three. Warnings still reach ``--log-file`` (polyglot.progress)."""
    import logging

    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    hf_logging.disable_default_handler()
    silent = logging.NullHandler()  # so Python's last-resort handler prints nothing either
    library = logging.getLogger("transformers")
    library.addHandler(silent)
    try:
        yield
    finally:
        library.removeHandler(silent)
        hf_logging.enable_default_handler()
        if bars:
            hf_logging.enable_progress_bar()


def attach_adapter(model, adapter: str | Path, base_name: str = "", *, merge: bool = True):
    """``model`` with the PEFT adapter at ``adapter``; an adapter for another base is refused."""
    import warnings

    from peft import PeftModel

    adapter = Path(adapter)
    if not (adapter / "adapter_config.json").exists():
        raise ConfigError(f"no PEFT adapter at '{adapter}' (adapter_config.json missing)")
    config = read_json(adapter / "adapter_config.json", "adapter config")
    if not isinstance(config, dict):
        raise ConfigError(f"{adapter / 'adapter_config.json'}: damaged adapter config")
    if not any(adapter.glob("adapter_model.*")):
        raise ConfigError(f"no adapter weights in '{adapter}' (adapter_model.safetensors missing)")
    try:
        with quiet_transformers(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library deprecation notices are not for users
            model = PeftModel.from_pretrained(model, str(adapter))
    except Exception as err:  # noqa: BLE001 - damaged weights, shapes of another base
        raise ConfigError(
            f"adapter '{adapter}' does not fit model '{base_name}' (trained for another "
            f"base?): {first_line(err)}"
        ) from None
    return model.merge_and_unload() if merge else model


def load_model_and_tokenizer(
    model: str,
    *,
    adapter: str | None = None,
    revision: str | None = None,
    dtype: str = "auto",
    device: str = "auto",
    padding_side: str = "left",
):
    """Both, for generation: the model in eval mode, the tokenizer padded on the left."""
    check_local_model(model)
    tokenizer = load_tokenizer(model, revision=revision, padding_side=padding_side)
    loaded = load_model(model, adapter=adapter, revision=revision, dtype=dtype, device=device)
    return loaded, tokenizer
