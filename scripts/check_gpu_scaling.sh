#!/usr/bin/env bash
# Scaling paths on a CUDA machine (docs/scaling.md): the eval with one engine and with two
# data-parallel replicas (the same figures expected, items/s compared), `accelerate launch` of
# `polyglot train` with the shipped single-GPU and FSDP configs and of `polyglot distill`,
# and whether vLLM is importable for the vLLM backend's own test. Run from the repository root
# with polyglot's requirements installed:
#   bash scripts/check_gpu_scaling.sh            # OUT=runs/gpu-scaling by default
# Figures go to $OUT/check.log and $OUT/seconds.txt, each run's results.json beside them.
set -uo pipefail
OUT=${OUT:-runs/gpu-scaling}
WORK=${WORK:-runs/gpu-scaling-work}
PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda}
LANGS=${LANGS:-en,sw,ko,th}
ACCELERATE=("$PY" -m accelerate.commands.launch)
mkdir -p "$OUT" "$WORK"
log() { echo "== $*" | tee -a "$OUT/check.log"; }
timed() {  # timed NAME COMMAND...: run it, record its wall time
    local name=$1; shift
    local start=$EPOCHREALTIME
    ("$@" 2>&1 || echo "FAILED: $name") | tail -12 | tee -a "$OUT/check.log"
    awk -v n="$name" -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%s %.1f\n", n, b - a}' \
        | tee -a "$OUT/seconds.txt"
}
$PY - <<'EOF' | tee -a "$OUT/check.log"
import importlib.util, torch, transformers, peft, accelerate
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "-", "gpus",
      torch.cuda.device_count(), "transformers", transformers.__version__, "peft",
      peft.__version__, "accelerate", accelerate.__version__, "vllm",
      "installed" if importlib.util.find_spec("vllm") else "not installed")
EOF
log "testbed from the shipped base"
timed testbed $PY -m polyglot testbed build --shipped --no-progress
EVAL=(-m polyglot eval --model runs/testbed/base --benchmark testbed --languages "$LANGS"
      --max-new-tokens 160 --dtype float32 --no-progress)
log "eval: one engine (hf, $DEVICE, float32)"
timed eval_dp1 $PY "${EVAL[@]}" --device "$DEVICE" --out "$WORK/eval-dp1"
log "eval: two data-parallel replicas (both on the visible GPUs in turn)"
timed eval_dp2 $PY "${EVAL[@]}" --device "$DEVICE" --data-parallel-size 2 --out "$WORK/eval-dp2"
$PY - "$WORK" <<'EOF' | tee -a "$OUT/check.log"
import json, sys
from pathlib import Path
work = Path(sys.argv[1])
def records(name):
    rows = [json.loads(l) for l in (work / name / "generations.jsonl").read_text().splitlines()]
    return {r["key"]: (r["output"], r["correct"]) for r in rows}
one, two = records("eval-dp1"), records("eval-dp2")
same = sum(one[k] == two.get(k) for k in one)
print(f"dp2 vs dp1: {same}/{len(one)} generations identical")
for name in ("eval-dp1", "eval-dp2"):
    r = json.loads((work / name / "results.json").read_text())
    acc = {l: v["accuracy"] for l, v in r["languages"].items()}
    tokens = sum(v["mean_new_tokens"] * v["n"] for v in r["languages"].values())
    sec = r["run"]["generation_seconds"]
    print(name, "accuracy", acc, "items/s", r["run"]["items_per_second"],
          "new tokens/s", round(tokens / sec, 1) if sec else None)
EOF
cp "$WORK/eval-dp1/results.json" "$OUT/eval-dp1.json"; cp "$WORK/eval-dp2/results.json" "$OUT/eval-dp2.json"
log "accelerate launch, single-GPU config: polyglot train (math expert, full, 200 steps)"
timed train_single "${ACCELERATE[@]}" --config_file configs/accelerate/single-gpu.yaml \
    -m polyglot train -c configs/train/math-expert.yaml out="$WORK/train-single" eval=null --no-progress
log "accelerate launch, FSDP2 full-shard config (1 process): polyglot train full, then eval it"
timed train_fsdp "${ACCELERATE[@]}" --config_file configs/accelerate/fsdp.yaml --num_processes 1 \
    -m polyglot train -c configs/train/math-expert.yaml out="$WORK/train-fsdp" eval=null --no-progress
timed eval_fsdp $PY -m polyglot eval --model "$WORK/train-fsdp" --benchmark testbed --languages en,sw \
    --limit 100 --max-new-tokens 160 --dtype float32 --device "$DEVICE" --out "$WORK/eval-fsdp" --no-progress
cp "$WORK/eval-fsdp/results.json" "$OUT/eval-fsdp.json" 2>/dev/null
$PY -c "import json,sys; t=json.load(open(sys.argv[1]))[\"training\"]; print(\"fsdp training:\", {k: t.get(k) for k in (\"distributed\", \"processes\", \"seconds\", \"final_loss\")})" "$WORK/train-fsdp/summary.json" | tee -a "$OUT/check.log"
log "accelerate launch, single-GPU config: polyglot distill (token level, sw, 60 steps)"
timed distill_single "${ACCELERATE[@]}" --config_file configs/accelerate/single-gpu.yaml \
    -m polyglot distill -c configs/distill/testbed-sw.yaml --steps 60 out="$WORK/distill" \
    eval.benchmarks="[{name: testbed, languages: [sw], limit: 100}]" --no-progress
cp "$WORK/distill/summary.json" "$OUT/distill-summary.json" 2>/dev/null
log "done"
