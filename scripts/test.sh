#!/usr/bin/env bash
# Installs everything the test suite needs (Python packages, Debian's Chromium) and runs it.
# Safe to run again: installs are skipped when already present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
python -m pip install -q --upgrade pip wheel setuptools
# torch + torchvision: the CPU-usable builds that lie on this machine's disk (pip takes them from there).
python -c "import torch, torchvision" 2>/dev/null || python -m pip install -q torch==2.14.1 torchvision==0.29.1
python -m pip install -q -e '.[sam,onnx,gaze,pupil,test]'
# SAM 2 ships as a source package whose CUDA extension is optional: build it without CUDA and
# against the torch already installed (build isolation would fetch another torch).
python -c "import sam2" 2>/dev/null || SAM2_BUILD_CUDA=0 python -m pip install -q --no-build-isolation 'sam2==1.1.0'
# MediaPipe (webcam gaze, extra 'webcam') is not installed here: it pins its own OpenCV build,
# which would replace opencv-python-headless; the webcam tests use a fake landmarker instead.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
  fi
fi
python -m pytest -q -p no:cacheprovider "$@"
