#!/usr/bin/env bash
# One command that checks the GPU path on a real device (issue 20): at most ~8 minutes on one
# H100/H200, each stage under its own timeout, one JSON + one log in the folder given.
#
#   benchmarks/device_check.sh OUT_DIR [--device cuda|cpu] [--notebooks]
#
# --device cpu is the same code at tiny sizes (CI runs it: tests/test_device_check.py).
# Stages and criteria: benchmarks/device_check.py.  Exit 0 when every criterion passes.
set -u
if [ $# -lt 1 ] || [ "${1#-}" != "$1" ]; then
  echo "usage: benchmarks/device_check.sh OUT_DIR [--device cuda|cpu] [--notebooks]" >&2
  exit 2
fi
OUT=$1; shift
DEVICE=cuda; EXTRA=()
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=${2:?--device needs cpu or cuda}; shift 2 ;;
    --notebooks) EXTRA+=(--notebooks); shift ;;
    *) echo "device_check.sh: unknown argument $1 (allowed: --device cpu|cuda, --notebooks)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cpu|cuda|cuda:*) ;; *) echo "device_check.sh: --device must be cpu or cuda; got $DEVICE" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=python3
mkdir -p "$OUT/stages" || exit 2
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/stages/*.json
LOG=$OUT/device_check.log
: > "$LOG"
export MUFNO_THREADS=${MUFNO_THREADS:-1} MUFNO_PROGRESS=${MUFNO_PROGRESS:-off}
if [ "$DEVICE" = cpu ]; then
  T_ENV=60; T_MEM=120; T_CHUNK=120; T_AGREE=120; T_BENCH=60; T_REPRO=60
else  # seconds, 465 in all at worst
  T_ENV=15; T_MEM=60; T_CHUNK=120; T_AGREE=45; T_BENCH=45; T_REPRO=180
fi
run_stage() {
  local name=$1 limit=$2 t0 rc
  t0=$(date +%s)
  echo "=== $name (timeout ${limit}s) $(date -u +%H:%M:%S)" >> "$LOG"
  timeout --kill-after=10 "$limit" "$PY" "$ROOT/benchmarks/device_check.py" "$name" --device "$DEVICE" --out "$OUT" \
    "${EXTRA[@]}" >> "$LOG" 2>&1
  rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && echo "!!! $name timed out after ${limit}s" >> "$LOG"
  echo "=== $name rc=$rc $(( $(date +%s) - t0 ))s" >> "$LOG"
  echo "device_check: $name rc=$rc ($(( $(date +%s) - t0 ))s)"
}
run_stage env "$T_ENV"
run_stage memory_tests "$T_MEM"
run_stage chunk "$T_CHUNK"
run_stage agreement "$T_AGREE"
run_stage bench_step "$T_BENCH"
run_stage reproduce "$T_REPRO"
"$PY" "$ROOT/benchmarks/device_check.py" summary --device "$DEVICE" --out "$OUT" 2>&1 | tee -a "$LOG"
exit "${PIPESTATUS[0]}"
