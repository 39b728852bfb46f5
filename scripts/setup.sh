#!/usr/bin/env bash
# Installs every Debian 12 package joule needs to build, test and run.
# Idempotent: packages already installed are skipped, and apt is not touched
# at all when nothing is missing. Uses sudo when not run as root.
#   scripts/setup.sh          build + unit test dependencies (what the demo needs)
#   scripts/setup.sh --test   also Debian's chromium, the headless browser of the
#                             browser tests, and PyTorch, NumPy and ONNX for Python,
#                             which the Python package's and the ONNX tests use, and
#                             venv, pip, setuptools and wheel for its offline install test
#                             (scripts/test.sh asks for it)
#   scripts/setup.sh --bench  also PyTorch 1.13 (python3-torch), the bench peer, and
#                             Optuna (python3-optuna), bench/search_vs_optuna.py's peer
#   scripts/setup.sh --ci     also what CI alone needs: clang's libFuzzer and LLVM's
#                             OpenMP (the fuzz smoke) and debootstrap (the bare-root check)
set -euo pipefail

# ocl-icd-opencl-dev: Debian's dnnl-config.cmake calls find_package(OpenCL), but
# libdnnl-dev only Recommends it, and recommends are not installed here; a bare
# root without it stops at CMake (scripts/check-fresh.sh proves it is enough).
# libopenmpi-dev, openmpi-bin: the optional MPI layer (joule train --distributed,
# joule federated) and its tests under mpirun; the core builds without them.
packages=(build-essential cmake ninja-build pkg-config git
          libdnnl-dev ocl-icd-opencl-dev zlib1g-dev libsqlite3-dev nlohmann-json3-dev libcli11-dev
          libtomlplusplus-dev libcpp-httplib-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
          clang-format python3 libonnx-dev libprotobuf-dev protobuf-compiler
          libopenmpi-dev openmpi-bin)
if [[ "${1:-}" == "--bench" ]]; then
  # OpenBLAS: without it Debian's torch runs on the reference BLAS, a peer too weak to
  # be worth beating.
  packages+=(python3-torch python3-numpy libopenblas0-pthread python3-optuna)
fi
if [[ "${1:-}" == "--test" ]]; then
  packages+=(chromium python3-torch python3-numpy libopenblas0-pthread python3-onnx
             python3-venv python3-pip python3-setuptools python3-wheel)
fi
if [[ "${1:-}" == "--ci" ]]; then
  packages+=(clang libclang-rt-14-dev libomp-dev debootstrap)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup: all ${#packages[@]} packages already installed"
  exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
