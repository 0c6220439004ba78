#!/usr/bin/env bash
# Prepare a Python environment with PyTorch 2.9.0, torchattacks 3.5.1 and torchvision 0.24.0 for
# the PyTorch oracles (scripts/torch_oracle.py, scripts/published_oracle.py), using only the
# Python package registry. Idempotent: a finished install is reused.
#
#   bash scripts/setup-pytorch.sh            # installs into ${ADVCAL_CACHE:-~/.cache/advcal}/pytorch-venv
#   eval "$(bash scripts/setup-pytorch.sh --print-env)"   # same, then export ADVCAL_PYTHON
#
# The venv lives outside the repository. torch is the plain PyPI wheel *with* its dependencies
# (a CUDA build: the nvidia-* wheels are dead weight on a CPU machine, but the wheel's import
# path expects them). torchattacks is installed with --no-deps: its declared requirements would
# pull another torch and torchvision, and it never imports torchvision (checked below).
# torchvision==0.24.0 (the release built against torch 2.9.0; a newer one fails at import with
# "operator torchvision::nms does not exist") is also installed with --no-deps, with pillow, for
# the published-model oracle's ImageNet architectures and image loading.
# This venv is separate from the --no-deps one of scripts/setup-libtorch.sh on purpose: that one
# is curated for linking, this one must `import torch` as a user would.
set -euo pipefail

print_env=0
for arg in "$@"; do
  case "$arg" in
    --print-env) print_env=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

TORCH_VERSION=2.9.0
TORCHATTACKS_VERSION=3.5.1
TORCHVISION_VERSION=0.24.0
cache="${ADVCAL_CACHE:-$HOME/.cache/advcal}"
venv="$cache/pytorch-venv"
stamp="$venv/.advcal-complete"
want="torch==$TORCH_VERSION torchattacks==$TORCHATTACKS_VERSION torchvision==$TORCHVISION_VERSION pillow"

log() { echo "[setup-pytorch] $*" >&2; }

if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
  python="${PYTHON:-python3}"
  mkdir -p "$cache"
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv"
    "$python" -m venv "$venv"
  fi
  py="$venv/bin/python"
  if ! "$py" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    log "installing torch==$TORCH_VERSION with its dependencies (a few GB of CUDA wheels)"
    "$py" -m pip install --quiet "torch==$TORCH_VERSION"
  fi
  if ! "$py" -c "import torchattacks, scipy, numpy, safetensors, sys; sys.exit(torchattacks.__version__ != '$TORCHATTACKS_VERSION')" 2>/dev/null; then
    log "installing torchattacks==$TORCHATTACKS_VERSION (no deps), scipy, numpy, safetensors"
    "$py" -m pip install --quiet --no-deps "torchattacks==$TORCHATTACKS_VERSION" scipy numpy safetensors
  fi
  if ! "$py" -c "import torchvision, PIL, sys; sys.exit(torchvision.__version__.split('+')[0] != '$TORCHVISION_VERSION')" 2>/dev/null; then
    log "installing torchvision==$TORCHVISION_VERSION (no deps) and pillow"
    "$py" -m pip install --quiet --no-deps "torchvision==$TORCHVISION_VERSION" pillow
  fi
  site="$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  if grep -rqE '^\s*(import|from)\s+torchvision' "$site/torchattacks"; then
    log "warning: torchattacks imports torchvision somewhere; the oracle's attacks (FGSM, PGD) do not"
  fi
  "$py" -c "import torch, torchattacks, torchvision, PIL, scipy, numpy, safetensors.torch; print('torch', torch.__version__, 'torchattacks', torchattacks.__version__, 'torchvision', torchvision.__version__, 'pillow', PIL.__version__)" >&2
  echo "$want" > "$stamp"
  log "ready: $venv"
fi

if [[ $print_env == 1 ]]; then
  echo "export ADVCAL_PYTHON=\"$venv/bin/python\""
else
  log "export ADVCAL_PYTHON=$venv/bin/python"
fi
