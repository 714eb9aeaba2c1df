#!/usr/bin/env bash
# The GPU checks, and taking the project to a cluster node without internet.
#
#   scripts/gpu-check.sh run [LOG]          on a machine with a GPU, from the project's root (built,
#                                           `make setup` done, or unpacked as below): `ilr doctor
#                                           --ep webgpu`, the WebGPU jest tests (parity of cnn4 and
#                                           preresnet8 with the CPU, the device-resident engine, the
#                                           killed and resumed run) and `ilr bench --ep webgpu
#                                           --vs-torch` for preresnet32 (batch 128) and cnn4, PyTorch
#                                           on CUDA. Everything it prints also goes to LOG
#                                           (default gpu-check.log).
#   scripts/gpu-check.sh pack [ARCHIVE]     here, with internet: build, then put what the project
#                                           needs into one archive (default ilr-offline.tar.gz): the
#                                           tracked files, dist/, node_modules (onnxruntime-node's
#                                           linux-x64 libraries only), this machine's node, and
#                                           Debian's Vulkan loader (libvulkan1).
#   scripts/gpu-check.sh unpack ARCHIVE DIR on the node: unpack into DIR; then `cd DIR/ilr &&
#                                           scripts/gpu-check.sh run`.
#
# PyTorch is not packed: `run` uses the node's python3 (ILR_PYTHON to choose another), and the
# comparisons with PyTorch skip without it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
# What pack adds beyond the project's own files: node and the Vulkan loader, found by `run`.
EXTRA=.offline

pack() {
  local archive
  archive=$(realpath -m "${1:-ilr-offline.tar.gz}")
  cd "$ROOT"
  node node_modules/typescript/bin/tsc -p tsconfig.json
  local stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/$EXTRA/bin" "$stage/$EXTRA/vulkan"
  cp "$(command -v node)" "$stage/$EXTRA/bin/node"
  if (cd "$stage" && apt-get download libvulkan1 >/dev/null 2>&1); then
    dpkg -x "$stage"/libvulkan1_*.deb "$stage/$EXTRA/vulkan" && rm "$stage"/libvulkan1_*.deb
  else
    echo "warning: apt-get download libvulkan1 failed; the archive has no Vulkan loader, so the node needs libvulkan1 installed for WebGPU" >&2
  fi
  # Every package but onnxruntime-node's libraries for other platforms; links followed, so a
  # node_modules that is a link travels as the files.
  git ls-files -z | tar -czf "$archive.tmp" --null --dereference --transform 's,^,ilr/,' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
    --exclude='node_modules/.cache' \
    -T - dist node_modules -C "$stage" "$EXTRA"
  mv "$archive.tmp" "$archive"
  echo "$archive: $(du -m "$archive" | cut -f1) MiB; on the node: scripts/gpu-check.sh unpack $(basename "$archive") DIR"
}

unpack() {
  [ $# -eq 2 ] || { echo "usage: scripts/gpu-check.sh unpack ARCHIVE DIR" >&2; exit 2; }
  [ -f "$1" ] || { echo "$1: no such archive (make it with \`scripts/gpu-check.sh pack\` where there is internet)" >&2; exit 2; }
  mkdir -p "$2"
  tar -xzf "$1" -C "$2"
  echo "unpacked into $2/ilr; there: scripts/gpu-check.sh run"
}

run() {
  cd "$ROOT"
  exec > >(tee "${1:-gpu-check.log}") 2>&1
  # An unpacked archive brings its node and Vulkan loader; elsewhere the system's are used.
  if [ -x "$EXTRA/bin/node" ]; then export PATH="$ROOT/$EXTRA/bin:$PATH"; fi
  if [ -d "$EXTRA/vulkan/usr/lib" ]; then
    LD_LIBRARY_PATH="$(find "$ROOT/$EXTRA/vulkan/usr/lib" -name 'libvulkan.so*' -printf '%h\n' | sort -u | paste -sd:):${LD_LIBRARY_PATH:-}"
    export LD_LIBRARY_PATH
  fi
  [ -f dist/cli.js ] || node node_modules/typescript/bin/tsc -p tsconfig.json
  # NVIDIA's Vulkan driver where the container runtime puts it, unless one is chosen.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_ICD_FILENAMES:-}" ] && [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; fi
  XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
  export XDG_RUNTIME_DIR REQUIRE_WEBGPU=1
  echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  node --version; "${ILR_PYTHON:-python3}" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())' || true
  echo "== ilr doctor --ep webgpu"; node dist/cli.js doctor --ep webgpu
  echo "== WebGPU tests"
  node node_modules/jest/bin/jest.js --maxWorkers=4 test/runtime/webgpu.test.ts test/runtime/webgpu-resume.test.ts
  echo "== bench, ours on WebGPU, PyTorch on CUDA"
  node dist/cli.js bench --ep webgpu --vs-torch --model preresnet32 --input 3x32x32 --batch 128 --threads 8 --steps 20 --warmup 5 --rounds 2
  node dist/cli.js bench --ep webgpu --vs-torch --model cnn4 --input 1x28x28 --batch 128 --threads 8 --steps 20 --warmup 5 --rounds 2
}

cmd=${1:-}
shift || true
case "$cmd" in
  pack) pack "$@" ;;
  unpack) unpack "$@" ;;
  run) run "$@" ;;
  *) echo "usage: scripts/gpu-check.sh run [LOG] | pack [ARCHIVE] | unpack ARCHIVE DIR   (see the comment at the top)" >&2; exit 2 ;;
esac
