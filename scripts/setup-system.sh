#!/usr/bin/env bash
# Installs the Debian packages the project uses beside npm: PyTorch and ONNX for the referee
# (scripts/torch_bridge.py, onnx.checker), protobuf for the independent TensorBoard reader,
# chromium for the dashboard's browser test and for its SwiftShader Vulkan driver (with
# libvulkan1, the WebGPU provider runs on a machine without a GPU), Slurm (slurm-wlm, munge) for
# the one-node cluster the Slurm launcher's tests run on (scripts/slurm-up.sh), the Fashion-MNIST
# files, the default data set, and strace, whose fault injection kills a run at exact system calls
# (test/faults).
# Installs only as root with apt-get; otherwise says what is missing and goes on.
set -u
PACKAGES=(python3-torch python3-torchvision python3-onnx python3-numpy python3-protobuf chromium libvulkan1 dataset-fashion-mnist fonts-dejavu-core slurm-wlm munge strace)

missing=()
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
/usr/bin/python3 -c 'import torchvision' 2>/dev/null || missing+=(python3-torchvision)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || missing+=(python3-onnx)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || missing+=(python3-numpy)
/usr/bin/python3 -c 'import google.protobuf' 2>/dev/null || missing+=(python3-protobuf)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -f /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz ] || missing+=(dataset-fashion-mnist)
[ -d /usr/share/fonts/truetype/dejavu ] || missing+=(fonts-dejavu-core)
command -v strace >/dev/null || missing+=(strace)
ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || missing+=(libvulkan1)
command -v slurmctld >/dev/null || [ -x /usr/sbin/slurmctld ] || missing+=(slurm-wlm)
command -v munged >/dev/null || [ -x /usr/sbin/munged ] || missing+=(munge)

if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || {
    echo "apt-get install ${missing[*]} failed" >&2; exit 1; }
else
  echo "note: missing Debian packages: ${missing[*]}"
  echo "      install them with: sudo apt-get install ${missing[*]}"
  echo "      (without python3-torch the PyTorch comparisons are skipped; without dataset-fashion-mnist, point --data-dir at the IDX files; without slurm-wlm and munge, the Slurm launcher's tests;"
  echo "       without chromium and libvulkan1, the WebGPU tests, unless the machine has a Vulkan driver)"
fi
