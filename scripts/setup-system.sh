#!/usr/bin/env bash
# Installs the Debian packages the project uses beside npm: PyTorch and ONNX for the referee
# (scripts/torch_bridge.py, onnx.checker), the Fashion-MNIST files, the default data set, and
# chromium (for its SwiftShader Vulkan driver) with libvulkan1, so that the WebGPU provider runs
# on a machine without a GPU.
# Installs only as root with apt-get; otherwise says what is missing and goes on.
set -u
PACKAGES=(python3-torch python3-onnx python3-numpy dataset-fashion-mnist fonts-dejavu-core chromium libvulkan1)

missing=()
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || missing+=(python3-onnx)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || missing+=(dataset-fashion-mnist)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
[ -f /usr/lib/chromium/vk_swiftshader_icd.json ] || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || missing+=(libvulkan1)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "note: missing Debian packages: ${missing[*]}"
  echo "      install them with: sudo apt-get install ${missing[*]}"
  echo "      (without python3-torch the PyTorch comparisons are skipped; without dataset-fashion-mnist, point --data-dir at the IDX files;"
  echo "       without chromium and libvulkan1 the WebGPU tests are skipped unless the machine has a Vulkan driver)"
fi
