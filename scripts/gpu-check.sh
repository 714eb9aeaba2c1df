#!/usr/bin/env bash
# The WebGPU path on a real GPU, in one call of the device tool (a machine with an NVIDIA GPU and
# PyTorch on CUDA, but no node, no network and at most 64 MiB carried).
#
#   scripts/gpu-check.sh pack   here: build, then put what that machine lacks into .gpu-check/
#                               (a stripped node, node_modules with onnxruntime-node's linux-x64
#                               libraries only, and Debian's Vulkan loader), xz-compressed, and
#                               check the size; dist/ is built there from the tree that travels
#   scripts/gpu-check.sh run    there (carry: [".gpu-check"]): unpack, find the NVIDIA Vulkan
#                               driver, then run `ilr doctor --ep webgpu`, the WebGPU jest tests
#                               (parity of cnn4 and preresnet8 with the CPU, the device-resident
#                               engine, the killed and resumed run) and
#                               `ilr bench --ep webgpu --vs-torch` for preresnet32 (batch 128) and
#                               cnn4, PyTorch on CUDA. Everything it prints lands in $OUT/gpu-check.log.
#
# The device tool's call, after `pack`:
#   run(command="bash scripts/gpu-check.sh run", carry=[".gpu-check"], timeout_s=540)
set -euo pipefail
cd "$(dirname "$0")/.."
BUNDLE=.gpu-check
LIMIT_MB=60 # the device tool carries 64 MiB in all, the tracked files included

pack() {
  rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/debs"
  strip -o "$BUNDLE/node" "$(command -v node)"
  xz -T0 -6 "$BUNDLE/node"
  # Every package but onnxruntime-node's libraries for other platforms.
  tar -C . -cf - --dereference \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
    --exclude='node_modules/.cache' \
    node_modules | xz -T0 -6 >"$BUNDLE/modules.tar.xz"
  (cd "$BUNDLE/debs" && apt-get download libvulkan1 >/dev/null)
  local mb
  mb=$(du -sm "$BUNDLE" | cut -f1)
  echo "$BUNDLE: ${mb} MiB"
  ls -l "$BUNDLE" "$BUNDLE/debs"
  if [ "$mb" -gt "$LIMIT_MB" ]; then echo "$BUNDLE is over ${LIMIT_MB} MiB: the device tool cannot carry it" >&2; exit 1; fi
}

run() {
  # It replaces node_modules and unpacks into /: only on the device machine, which sets $OUT.
  [ -n "${OUT:-}" ] || { echo "run is for the device machine, where \$OUT is set; here, use make test" >&2; exit 2; }
  local out=$OUT
  mkdir -p "$out"
  exec > >(tee "$out/gpu-check.log") 2>&1
  [ -d "$BUNDLE" ] || { echo "no $BUNDLE: run \`scripts/gpu-check.sh pack\` here first and carry it" >&2; exit 1; }
  local bin=/tmp/gpu-check-bin
  mkdir -p "$bin"
  xz -dc "$BUNDLE/node.xz" >"$bin/node" && chmod +x "$bin/node"
  export PATH="$bin:$PATH"
  rm -rf node_modules && tar -xJf "$BUNDLE/modules.tar.xz"
  node node_modules/typescript/bin/tsc -p tsconfig.json
  for f in "$BUNDLE"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$icd" ]; then export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"; fi
  XDG_RUNTIME_DIR=$(mktemp -d)
  export XDG_RUNTIME_DIR REQUIRE_WEBGPU=1 ILR_PYTHON
  ILR_PYTHON=$(command -v python3)
  echo "== machine"; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
  node --version; "$ILR_PYTHON" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'
  echo "== ilr doctor --ep webgpu"; node dist/cli.js doctor --ep webgpu
  echo "== WebGPU tests"
  node node_modules/jest/bin/jest.js --maxWorkers=4 test/runtime/webgpu.test.ts test/runtime/webgpu-resume.test.ts
  echo "== bench, ours on WebGPU, PyTorch on CUDA"
  node dist/cli.js bench --ep webgpu --vs-torch --model preresnet32 --input 3x32x32 --batch 128 --threads 8 --steps 20 --warmup 5 --rounds 2
  node dist/cli.js bench --ep webgpu --vs-torch --model cnn4 --input 1x28x28 --batch 128 --threads 8 --steps 20 --warmup 5 --rounds 2
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: scripts/gpu-check.sh pack | run   (see the comment at the top)" >&2; exit 2 ;;
esac
