#!/usr/bin/env bash
# Package trained checkpoints with the serving code into TorchServe archives.
#
#   ./archive.sh [--version X] [--model-store DIR] [--checkpoints DIR] [--model-config DIR]
#                [--format eager|compile|aoti|int8] [--handler-classes PACKAGE] [MODEL ...]
#
# Writes DIR/<model>.mar (default model_store/) for each MODEL (default: all).
# Each archive ships the checkpoint, the models/ and handlers/ packages and
# <model>.yaml from --model-config (default model-config/: workers, batching, timeouts).
# --format picks how the worker runs the model (default: the yaml's handler.format,
# else eager): eager, compile (torch.compile at worker start), aoti (compiled
# here into model.pt2 by AOTInductor; needs g++) or int8 (dynamic quantization).
# --handler-classes ships the Python package PACKAGE (dotted, under this folder)
# too, and the worker builds its handler from PACKAGE.handler_class(family)
# instead of handlers.handler_class: the benchmark serves its frozen pre-issue-15
# handlers so (bench.handlers_before). Default: the handlers as they are.
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
FORMAT=""
HANDLER_CLASSES=""
MODELS=()

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
fail() { echo "archive.sh: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) [ $# -ge 2 ] || fail "--version needs a value"; VERSION="$2"; shift 2 ;;
    --model-store) [ $# -ge 2 ] || fail "--model-store needs a directory"; STORE="$2"; shift 2 ;;
    --checkpoints) [ $# -ge 2 ] || fail "--checkpoints needs a directory"; CHECKPOINTS="$2"; shift 2 ;;
    --model-config) [ $# -ge 2 ] || fail "--model-config needs a directory"; MODEL_CONFIG="$2"; shift 2 ;;
    --format) [ $# -ge 2 ] || fail "--format needs one of eager, compile, aoti, int8"; FORMAT="$2"; shift 2 ;;
    --handler-classes) [ $# -ge 2 ] || fail "--handler-classes needs a package"; HANDLER_CLASSES="$2"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) fail "unknown option $1 (see --help)" ;;
    *) MODELS+=("$1"); shift ;;
  esac
done
[ ${#MODELS[@]} -gt 0 ] || MODELS=("${ALL_MODELS[@]}")
case "$FORMAT" in
  ""|eager|compile|aoti|int8) ;;
  *) fail "unknown format '$FORMAT' (known: eager, compile, aoti, int8)" ;;
esac

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
if [ -n "$HANDLER_CLASSES" ]; then
  [[ "$HANDLER_CLASSES" =~ ^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$ ]] ||
    fail "--handler-classes takes a dotted package name, not '$HANDLER_CLASSES'"
  package="${HANDLER_CLASSES//.//}"
  [ -f "$ROOT/$package/__init__.py" ] || fail "--handler-classes: no package $ROOT/$package"
  # The package itself, and only the __init__.py of each package above it.
  above=""
  for part in ${package//\// }; do
    above="${above:+$above/}$part"
    mkdir -p "$STAGE/code/$above"
    cp "$ROOT/$above/__init__.py" "$STAGE/code/$above/"
  done
  cp -R "$ROOT/$package/." "$STAGE/code/$package/"
fi
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

  # The format, and for aoti the compiled package, go in a folder of their own
  # whose contents land in the archive root, beside the checkpoint.
  format="$FORMAT"
  if [ -z "$format" ]; then
    format="$(cd "$ROOT" && python -c 'import sys, yaml; print(((yaml.safe_load(open(sys.argv[1])) or {}).get("handler") or {}).get("format") or "eager")' "$config")" ||
      fail "cannot read handler.format from $config"
  fi
  extras="$STAGE/$model"
  mkdir -p "$extras"
  echo "$format" > "$extras/model_format"
  [ -z "$HANDLER_CLASSES" ] || echo "$HANDLER_CLASSES" > "$extras/handler_classes"
  if [ "$format" = aoti ]; then
    command -v g++ >/dev/null 2>&1 || command -v c++ >/dev/null 2>&1 ||
      fail "--format aoti compiles C++: install g++ (Debian/Ubuntu: apt-get install g++), or use --format eager"
    # Compiled with the thread count the worker will use (handler.torch_threads, else cores / maxWorkers).
    threads="$(cd "$ROOT" && python -c 'import sys, yaml; from handlers.hardware import worker_threads; print(worker_threads(yaml.safe_load(open(sys.argv[1])) or {}))' "$config")"
    echo "archive.sh: compiling $model with AOTInductor (takes a few seconds)"
    (cd "$ROOT" && PYTHONWARNINGS=ignore python -m handlers.formats "$checkpoint" "$extras/model.pt2" "$threads" >/dev/null) ||
      fail "could not compile $model for aoti"
  fi

  torch-model-archiver \
    --model-name "$model" \
    --version "$version" \
    --serialized-file "$checkpoint" \
    --handler "$ROOT/handlers/torchserve_handler.py" \
    --extra-files "$STAGE/code,$extras" \
    --config-file "$config" \
    --export-path "$STORE" \
    --force
  echo "archive.sh: wrote $STORE/$model.mar (version $version, format $format${HANDLER_CLASSES:+, handlers from $HANDLER_CLASSES})"
done
