#!/usr/bin/env bash
# The GPU paths end to end on the shipped testbed: eval with the hf backend on CUDA (bf16),
# `polyglot train` full (bf16 autocast, float32 master weights) and LoRA (bf16 base), and a
# whole `polyglot merge run` recipe, each timed; figures printed and written under $OUT
# (default runs/gpu-check). Run from the repository root on a CUDA machine with polyglot's
# requirements installed:
#   bash scripts/check_gpu.sh
set -euo pipefail
OUT=${OUT:-runs/gpu-check}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/check.log"; }
timed() {  # timed NAME COMMAND...: run it, record its wall time
    local name=$1; shift
    local start=$EPOCHREALTIME
    ("$@" 2>&1 || echo "FAILED: $name") | tail -25 | tee -a "$OUT/check.log"
    awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%s %.1f\n", n, b - a}' \
        | tee -a "$OUT/seconds.txt"
}
$PY - <<'EOF' | tee -a "$OUT/check.log"
import torch, transformers, peft
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-",
      "transformers", transformers.__version__, "peft", peft.__version__)
EOF
log "testbed from the shipped base"
timed testbed $PY -m polyglot testbed build --shipped --no-progress
log "eval: base on every testbed language, hf on cuda (bf16)"
timed eval_base $PY -m polyglot eval --model runs/testbed/base --benchmark testbed --languages all \
    --max-new-tokens 160 --device "$DEVICE" --out "$OUT/eval-base" --no-progress
log "train: math expert, full fine-tuning, 200 steps (bf16 autocast)"
timed train_full $PY -m polyglot train -c configs/train/math-expert.yaml out="$OUT/math-expert" \
    device="$DEVICE" --no-progress
log "train: LoRA, parallel SFT recipe (bf16 base)"
timed train_lora $PY -m polyglot train -c configs/train/parallel-sft.yaml out="$OUT/lora" \
    device="$DEVICE" --no-progress
log "merge run: configs/merge/testbed-sw.yaml without mergekit's merges (not installed here)"
cat > "$OUT/merge-sw.yaml" <<EOF2
base: runs/testbed/base
experts:
  math: {train: configs/train/math-expert.yaml, overrides: ["device=$DEVICE"]}
  language: {train: configs/train/language-expert.yaml, overrides: ["data.0.path=runs/testbed/world/general/sw.jsonl", "device=$DEVICE"]}
merges:
  - {method: layer-swap, bottom: suggested, top: suggested}
  - {method: layer-swap, bottom: 1, top: 1, transition: 1}
eval: {benchmark: testbed, languages: [en, sw], max_new_tokens: 160, device: $DEVICE}
out: $OUT/merge-sw
EOF2
timed merge_run $PY -m polyglot merge run "$OUT/merge-sw.yaml" --quiet
log "done"
