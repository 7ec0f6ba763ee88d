#!/usr/bin/env bash
# One prepared check for a machine with an NVIDIA GPU, to fit in 8 minutes on one GPU:
# what the GPU paths (cuda, ort-cuda, NVML energy, the peaks) measure on real hardware.
#
#   bash benchmarks/gpu_check.sh [--dry-run]
#
# It uses the machine's own python3 and its CUDA torch (the device machines here carry one and
# reach no network), installs flagbench and whatever flagbench needs that the machine lacks
# from wheels carried in .whl/ (benchmarks/gpu_wheels.sh fetches them on a machine with pip
# access), prints the GPU's facts, runs the GPU tests, then cuda and ort-cuda on resnet50,
# bert and gpt-decode at fp32, tf32, fp16 and bf16, and gemm and membw sized for a large GPU,
# each with NVML energy, and writes the report, a CSV export and the log into $OUT
# (default ./gpu-check). A vendor the machine cannot run (ort-cuda without onnxruntime-gpu)
# is stored as skipped with its reason, like any other run.
#
# --dry-run prints what it would install and run, and runs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

dry=0
if [[ "${1:-}" == "--dry-run" ]]; then
    dry=1
elif [[ $# -gt 0 ]]; then
    echo "usage: bash benchmarks/gpu_check.sh [--dry-run]" >&2
    exit 2
fi
out="${OUT:-./gpu-check}"
py="${PYTHON:-python3}"
site=/tmp/flagbench-site
db="$out/gpu-check.db"

failed=0
step() {  # print a command and run it unless this is a dry run; a failure is noted, not fatal
    echo "+ $*"
    if [[ $dry -eq 0 ]]; then
        "$@" || { echo "  (exit $?: $1 failed; going on)"; failed=1; }
    fi
}

echo "gpu_check: results to $out, python $py$([[ $dry -eq 1 ]] && echo ', dry run')"
step mkdir -p "$out" "$site"
# What flagbench needs beyond what the machine has (SQLAlchemy, alembic, …) travels as wheels.
if compgen -G ".whl/*.whl" >/dev/null; then
    step "$py" -m pip install -q --no-index --no-deps --no-compile --target "$site" .whl/*.whl
else
    echo "  (no .whl/ here: flagbench's dependencies must already be installed)"
fi
# flagbench itself, as pyproject lays it out (vendors/, cases/, reports/ inside the package)
# with its entry points, without a build step that needs a recent setuptools there.
step "$py" benchmarks/install_tree.py "$site"
export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
# Exports and FLOP counts stay out of $OUT: only the results travel back.
export PYTHONUNBUFFERED=1 FLAGBENCH_CACHE=/tmp/flagbench-cache FLAGBENCH_SPOOL="$out/spool"

step nvidia-smi
step "$py" -m flagbench env
# The peak the cuda vendor declares here: NVIDIA's published figure if the name torch reports
# is in vendors/gpu_peaks.py, else the labelled formula.
step "$py" -c "from flagbench.vendors.cuda_peak import torch_cuda_peak as p; print(p('bf16'))"
# The GPU paths' own tests (NVML, the CUDA probes, ORT's providers), against the real driver.
step "$py" -m pytest -q -p no:cacheprovider tests/vendors/test_cuda_nvml.py \
    tests/vendors/test_onnxruntime.py tests/vendors/test_torch_eager.py

quick=(--warmup 0.5 --min-time 1 --max-time 4 --timeout 240 --db "$db" --tag check=gpu)
step "$py" -m flagbench run --vendor cuda,ort-cuda --case resnet50,bert,gpt-decode \
    --precision fp32,tf32,fp16,bf16 "${quick[@]}"
# Sized for a large GPU: gemm's default 1024 is launch-bound there (about 2 µs a product at
# 989 TFLOP/s). 8192 at every precision, and a bf16 sweep below it, so the report shows which
# size sustains what share of the published peak (the measured peak is the best of them).
step "$py" -m flagbench run --vendor cuda --case gemm -o gemm.size=8192 \
    --precision fp32,tf32,fp16,bf16 "${quick[@]}"
for size in 2048 4096; do
    step "$py" -m flagbench run --vendor cuda --case gemm -o gemm.size=$size \
        --precision bf16 "${quick[@]}"
done
step "$py" -m flagbench run --vendor cuda --case membw -o membw.size_mb=2048 \
    --precision fp32 "${quick[@]}"
# The framework used well: CUDA graphs (dynamo's backend: capture once, replay) beside eager,
# its capture in set-up; a report column of its own, cuda[mode=cudagraphs].
step "$py" -m flagbench run --vendor cuda -O mode=cudagraphs --case resnet50 \
    --precision fp16 "${quick[@]}"

step "$py" -m flagbench history --db "$db" --limit 40
step "$py" -m flagbench report --db "$db" --out "$out/gpu-check.html"
step "$py" -m flagbench export --db "$db" --format csv --out "$out/gpu-check.csv"
echo "gpu_check: done; $out holds the database, the report and the CSV"
exit "$failed"
