#!/usr/bin/env bash
# The GPU kit's entry point (made by `cargo xtask gpu-kit`; see README.md beside it).
#
#   ./run.sh [suite|bench|all]          (default: all)
#
# Environment:
#   DEVICES  devices to test and measure (default "tch-cuda:0 vulkan:0")
#   PYTHON   a Python with torch (default: python3); its torch/lib is what tch links to
#   BATCHES  PPO step batch sizes for the benchmark (default "16 128")
# Results go to out/: suite.txt, bench.jsonl (ours and, when trl imports, TRL 0.11.4's).
set -euo pipefail
cd "$(dirname "$0")"
what=${1:-all}
PYTHON=${PYTHON:-python3}
DEVICES=${DEVICES:-"tch-cuda:0 vulkan:0"}
BATCHES=${BATCHES:-"16 128"}
mkdir -p out

# libtorch: the machine's own (torch-sys' version check is a build-time check only).
torch_lib=$("$PYTHON" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH="$PWD/lib:$torch_lib:${LD_LIBRARY_PATH:-}"
# NVIDIA's Vulkan driver is libGLX_nvidia.so.0 in the driver's folder; it needs libglvnd's
# libGLdispatch (bundled in lib/).
if [[ -d /usr/local/nvidia/lib64 ]]; then export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:/usr/local/nvidia/lib64"; fi
# Vulkan: the bundled loader (lib/libvulkan.so.1) and the NVIDIA driver's ICD when it has one.
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
           /etc/vulkan/icd.d/nvidia_icd.json; do
  if [[ -z "${VK_DRIVER_FILES:-}" && -f "$icd" ]]; then export VK_DRIVER_FILES="$icd"; fi
done
export HF_HUB_OFFLINE=1
torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__)')
echo "torch: $torch_version (the kit's tch backend was linked against $(cat TORCH_VERSION))"
# libtorch's C++ ABI changes between minor versions: a binary linked against 2.9 loads 2.11's
# libraries but panics at its first tensor read ("Cannot access data pointer of Tensor that
# doesn't have storage", seen on an H100 with torch 2.11). Skip tch devices then.
minor() { echo "$1" | cut -d. -f1,2; }
if [[ $(minor "$torch_version") != $(minor "$(cat TORCH_VERSION)") ]]; then
  kept=""
  for d in $DEVICES; do
    if [[ $d == tch-* ]]; then
      echo "skipping $d: this machine's torch is $torch_version, the kit's libtorch $(cat TORCH_VERSION);"
      echo "  build the kit against this machine's torch (cargo xtask setup-tch, then install torch==$torch_version"
      echo "  into .venv, then cargo xtask gpu-kit), or run with a torch $(cat TORCH_VERSION) venv as PYTHON"
    else
      kept="$kept $d"
    fi
  done
  DEVICES=$kept
fi
echo "vulkan driver files: ${VK_DRIVER_FILES:-(system default)}"

if [[ $what == suite || $what == all ]]; then
  args=()
  for d in $DEVICES; do args+=(--device "$d"); done
  ./bin/xtask backends --binary "$PWD/bin/rlhf" "${args[@]}" 2>&1 | tee out/suite.txt
fi

if [[ $what == bench || $what == all ]]; then
  if [[ ! -f models/gpt2-124m/model.safetensors ]]; then
    "$PYTHON" tests/reference/make_full_size.py --out models
  fi
  : > out/bench.jsonl
  for d in $DEVICES; do
    ./bin/rlhf --device "$d" bench --policy models/gpt2-124m --reward models/roberta-large \
      --generation-batch 16 --ppo-batch $BATCHES | tee -a out/bench.jsonl
  done
  if "$PYTHON" -c 'import trl' 2>/dev/null; then
    "$PYTHON" tests/reference/bench_ppo_step.py --policy models/gpt2-124m \
      --reward models/roberta-large --batch $BATCHES | tee -a out/bench.jsonl
  else
    echo "trl is not importable: no TRL figures (install trl==0.11.4 and transformers==4.46.3)"
  fi
fi
