"""The engine flags every generating command takes (``polyglot/generation/engine.py``)."""

from __future__ import annotations

import typer

from polyglot.generation.engine import parse_engine_args

TENSOR_PARALLEL = typer.Option(
    None,
    "--tensor-parallel-size",
    "--tp",
    help="vllm: GPUs one engine splits each layer over (a model larger than one GPU).",
)
PIPELINE_PARALLEL = typer.Option(
    None, "--pipeline-parallel-size", "--pp", help="vllm: GPUs one engine splits the layers over."
)
DATA_PARALLEL = typer.Option(
    None,
    "--data-parallel-size",
    "--dp",
    help="Independent replicas of the engine, each in its own process on its own GPUs (tp × pp "
    "each; CPU threads on the hf backend without a GPU), over disjoint batches; the "
    "generations are identical to one process's.",
)
GPU_MEMORY = typer.Option(
    None,
    "--gpu-memory-utilization",
    help="vllm: share of each GPU's memory the engine may take (vLLM's default 0.9).",
)
MAX_MODEL_LEN = typer.Option(
    None,
    "--max-model-len",
    help="The context in tokens (prompt + new); default: the model's own. Longer prompts keep "
    "their end.",
)
MAX_LORA_RANK = typer.Option(
    None, "--max-lora-rank", help="vllm: the largest adapter rank served (vLLM's default 16)."
)
ENFORCE_EAGER = typer.Option(
    None, "--enforce-eager/--cuda-graphs", help="vllm: no CUDA graphs (less memory, slower)."
)
ENGINE_ARG = typer.Option(
    None,
    "--engine-arg",
    help="Any other vLLM engine argument, key=value (repeatable): --engine-arg max_num_seqs=64 "
    "--engine-arg kv_cache_dtype=fp8. Unknown keys are refused with vLLM's list.",
)


def engine_flags(
    tensor_parallel_size=None,
    pipeline_parallel_size=None,
    data_parallel_size=None,
    gpu_memory_utilization=None,
    max_model_len=None,
    max_lora_rank=None,
    enforce_eager=None,
    engine_arg=None,
) -> dict:
    """The engine settings given on the command line (those left out are not in the dict)."""

    flags = dict(
        tensor_parallel_size=tensor_parallel_size,
        pipeline_parallel_size=pipeline_parallel_size,
        data_parallel_size=data_parallel_size,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        max_lora_rank=max_lora_rank,
        enforce_eager=enforce_eager,
        engine_args=parse_engine_args(engine_arg),
    )
    return {key: value for key, value in flags.items() if value is not None}
