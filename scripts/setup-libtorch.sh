#!/usr/bin/env bash
# Prepare a LibTorch (PyTorch 2.9.0, CPU) install that Burn's `tch` backend can link against,
# using only the Python package registry. Idempotent: a finished install is reused.
#
#   bash scripts/setup-libtorch.sh            # installs into ${ADVCAL_CACHE:-~/.cache/advcal}/libtorch-2.9.0 (venv torch-venv-2.9.0)
#   eval "$(bash scripts/setup-libtorch.sh --print-env)"   # same, then export LIBTORCH + LD_LIBRARY_PATH
#
# Why the detour: torch-sys 0.22 (used by burn-tch 0.21) wants exactly torch 2.9.0 and reads
# $LIBTORCH. The PyPI wheel is a CUDA build whose libtorch.so pulls in libtorch_cuda.so and the
# whole CUDA stack (gigabytes). For CPU use we only need libtorch_cpu.so and libc10.so, plus the
# two small CUDA runtime libraries that libc10 links to. We therefore install the wheel with
# --no-deps plus those two wheels, and build a curated lib/ folder with an empty stub libtorch.so
# so the linker's `-ltorch` is satisfied without loading the CUDA part.
#
# Users who already have a libtorch 2.9.0 (or a CUDA PyTorch 2.9.0) do not need this script:
# point LIBTORCH at it (or set LIBTORCH_USE_PYTORCH=1) as documented by the tch crate.
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
CUDA_RT_VERSION=12.8.90
cache="${ADVCAL_CACHE:-$HOME/.cache/advcal}"
venv="$cache/torch-venv-$TORCH_VERSION"
root="$cache/libtorch-$TORCH_VERSION"
stamp="$root/.complete"

log() { echo "[setup-libtorch] $*" >&2; }

if [[ ! -f "$stamp" ]]; then
  python="${PYTHON:-python3}"
  if [[ ! -x "$venv/bin/python" ]]; then
    log "creating venv $venv"
    "$python" -m venv "$venv"
  fi
  if ! "$venv/bin/python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$TORCH_VERSION')" 2>/dev/null; then
    log "installing torch==$TORCH_VERSION (no deps) and the CUDA runtime wheels it links to (~1 GB download)"
    "$venv/bin/pip" install --quiet --no-deps \
      "torch==$TORCH_VERSION" \
      "nvidia-cuda-runtime-cu12==$CUDA_RT_VERSION" \
      "nvidia-cuda-cupti-cu12==$CUDA_RT_VERSION"
  fi
  site="$("$venv/bin/python" - <<'PY'
import sysconfig
print(sysconfig.get_paths()["purelib"])
PY
)"
  torch_dir="$site/torch"
  [[ -f "$torch_dir/lib/libtorch_cpu.so" ]] || { log "libtorch_cpu.so not found under $torch_dir"; exit 1; }

  tmp="$root.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp/lib"
  ln -s "$torch_dir/include" "$tmp/include"
  ln -s "$torch_dir/share" "$tmp/share" 2>/dev/null || true
  for lib in libtorch_cpu.so libc10.so; do
    ln -s "$torch_dir/lib/$lib" "$tmp/lib/$lib"
  done
  gomp="$(ls "$torch_dir"/lib/libgomp*.so* 2>/dev/null | head -n1 || true)"
  if [[ -n "$gomp" ]]; then
    ln -s "$gomp" "$tmp/lib/$(basename "$gomp")"
    [[ -e "$tmp/lib/libgomp.so.1" ]] || ln -s "$gomp" "$tmp/lib/libgomp.so.1"
  fi
  for pattern in "nvidia/cuda_runtime/lib/libcudart.so.12" "nvidia/cuda_cupti/lib/libcupti.so.12"; do
    found="$site/$pattern"
    [[ -e "$found" ]] || { log "missing $found"; exit 1; }
    ln -s "$found" "$tmp/lib/$(basename "$found")"
  done
  # An empty libtorch.so: satisfies `-ltorch` without dragging in libtorch_cuda.so.
  stub_src="$tmp/stub.c"
  echo "/* intentionally empty: see scripts/setup-libtorch.sh */" > "$stub_src"
  "${CC:-gcc}" -shared -fPIC -o "$tmp/lib/libtorch.so" "$stub_src"
  rm -f "$stub_src"
  touch "$tmp/.complete"
  rm -rf "$root"
  mv "$tmp" "$root"
  log "ready: $root"
fi

if [[ $print_env == 1 ]]; then
  echo "export LIBTORCH=\"$root\""
  echo "export LD_LIBRARY_PATH=\"$root/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}\""
else
  log "export LIBTORCH=$root"
  log "export LD_LIBRARY_PATH=$root/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
fi
