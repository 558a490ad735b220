"""The shipped accelerate configs (configs/accelerate/) load with accelerate's own reader."""

from __future__ import annotations

from pathlib import Path

import pytest

CONFIGS = Path(__file__).parents[2] / "configs" / "accelerate"


@pytest.mark.parametrize(
    ("name", "kind", "machines"),
    [("single-gpu", "NO", 1), ("ddp", "MULTI_GPU", 1), ("fsdp", "FSDP", 1),
     ("multi-node", "MULTI_GPU", 2)],
)  # fmt: skip
def test_each_config_loads_as_accelerate_reads_it(name, kind, machines):
    from accelerate.commands.config.config_args import load_config_from_file

    config = load_config_from_file(str(CONFIGS / f"{name}.yaml"))
    assert config.distributed_type.value == kind and config.num_machines == machines
    assert config.mixed_precision == "no"  # precision is the recipe's (bf16 on GPUs)
    if kind == "FSDP":
        fsdp = config.fsdp_config
        assert fsdp["fsdp_version"] == 2 and fsdp["fsdp_reshard_after_forward"] is True
        assert fsdp["fsdp_state_dict_type"] == "FULL_STATE_DICT"  # a checkpoint eval loads


def test_every_shipped_config_is_tested():
    assert {p.stem for p in CONFIGS.glob("*.yaml")} == {"single-gpu", "ddp", "fsdp", "multi-node"}
