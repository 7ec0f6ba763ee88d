#!/usr/bin/env bash
# Fetch, on a machine with pip access, the wheels benchmarks/gpu_check.sh installs on a GPU
# machine that reaches no network: flagbench's dependencies that such a machine's image lacks,
# for its Python (3.12 on x86-64 by default; PY_VERSION overrides). They land in .whl/, which
# git ignores; carry that folder to the GPU machine with the working tree.
#
#   bash benchmarks/gpu_wheels.sh [--dry-run]
set -euo pipefail
cd "$(dirname "$0")/.."

pyver="${PY_VERSION:-3.12}"
# What the device image lacks of pyproject's dependencies (sqlalchemy needs greenlet on x86-64,
# alembic needs Mako); the rest (torch, numpy, scipy, jinja2, click, rich, psutil, matplotlib,
# nvidia-ml-py, onnx, onnxruntime, onnxscript) is there.
wheels=(sqlalchemy alembic mako platformdirs greenlet)
cmd=(python3 -m pip download -q --no-deps --only-binary=:all: --python-version "$pyver"
     --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64
     --platform manylinux2014_x86_64 -d .whl "${wheels[@]}")
echo "+ ${cmd[*]}"
if [[ "${1:-}" != "--dry-run" ]]; then
    mkdir -p .whl
    "${cmd[@]}"
    ls -l .whl
fi
