#!/usr/bin/env bash
# Package trained checkpoints with the serving code into TorchServe archives.
#
#   ./archive.sh [--version X] [--model-store DIR] [--checkpoints DIR] [--model-config DIR] [MODEL ...]
#
# Writes DIR/<model>.mar (default model_store/) for each MODEL (default: all).
# Each archive ships the checkpoint, the models/ and handlers/ packages and
# <model>.yaml from --model-config (default model-config/: workers, batching, timeouts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# A model family is served when it has model-config/<model>.yaml.
ALL_MODELS=()
for config in "$ROOT"/model-config/*.yaml; do
  name="$(basename "$config" .yaml)"
  ALL_MODELS+=("$name")
done
STORE="$ROOT/model_store"
CHECKPOINTS="$ROOT/checkpoints"
MODEL_CONFIG="$ROOT/model-config"
VERSION=""
MODELS=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
fail() { echo "archive.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || fail "--version needs a value"; VERSION="$2"; shift 2 ;;
    --model-store) [ $# -ge 2 ] || fail "--model-store needs a directory"; STORE="$2"; shift 2 ;;
    --checkpoints) [ $# -ge 2 ] || fail "--checkpoints needs a directory"; CHECKPOINTS="$2"; shift 2 ;;
    --model-config) [ $# -ge 2 ] || fail "--model-config needs a directory"; MODEL_CONFIG="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) fail "unknown option $1 (see --help)" ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[ ${#MODELS[@]} -gt 0 ] || MODELS=("${ALL_MODELS[@]}")

# Prefer the project's virtual environment when there is one.
if [ -x "$ROOT/.venv/bin/python" ]; then
  PATH="$ROOT/.venv/bin:$PATH"
fi
command -v torch-model-archiver >/dev/null 2>&1 ||
  fail "torch-model-archiver not found; run 'make install' or 'pip install -r requirements.txt'"

mkdir -p "$STORE"
STAGE="$(mktemp -d)"
trap 'rm -rf "$STAGE"' EXIT
# The archiver copies a directory's contents into the archive root, so the
# packages go in a folder of their own and arrive as importable packages.
mkdir -p "$STAGE/code"
cp -R "$ROOT/models" "$ROOT/handlers" "$STAGE/code/"
find "$STAGE/code" -name __pycache__ -type d -prune -exec rm -rf {} +

for model in "${MODELS[@]}"; do
  known=0
  for name in "${ALL_MODELS[@]}"; do [ "$name" = "$model" ] && known=1; done
  [ $known = 1 ] || fail "unknown model '$model' (known: ${ALL_MODELS[*]})"

  checkpoint="$CHECKPOINTS/$model/model.pt"
  [ -f "$checkpoint" ] ||
    fail "no checkpoint for $model at $checkpoint; train it first: python -m training.$model"
  config="$MODEL_CONFIG/$model.yaml"
  [ -f "$config" ] || fail "missing $config"

  version="$VERSION"
  if [ -z "$version" ]; then
    version="$(cd "$ROOT" && python -c 'import sys; from models.checkpoint import load_checkpoint; print(load_checkpoint(sys.argv[1])["version"])' "$checkpoint")" ||
      fail "cannot read the version from $checkpoint"
  fi

  torch-model-archiver \
    --model-name "$model" \
    --version "$version" \
    --serialized-file "$checkpoint" \
    --handler "$ROOT/handlers/torchserve_handler.py" \
    --extra-files "$STAGE/code" \
    --config-file "$config" \
    --export-path "$STORE" \
    --force
  echo "archive.sh: wrote $STORE/$model.mar (version $version)"
done
