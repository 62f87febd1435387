#!/usr/bin/env bash
# benchmarks/gpu_check.sh on a machine lent through ../.library/device: bare, offline, 15 minutes of
# device time a session and 10 minutes a call. First, here: python benchmarks/gpu_pack.py (.gpu_pack/,
# git-ignored: the packages the machine lacks and the shared images). Then two calls, the second at once
# while the machine is still warm:
#
#     run(command="benchmarks/gpu_device.sh start 520", carry=[".gpu_pack"], timeout_s=600)
#     run(command="benchmarks/gpu_device.sh wait 120", timeout_s=160)
#
# `start` installs the pack's packages (pydensecrf2 built there, about a minute), decodes its images and
# starts gpu_check.sh in a session of its own, so that it runs on between the calls. Both verbs then wait
# until the check is done or SECONDS have passed, and leave in $OUT its summary so far (summary.txt),
# the setup's log and its logs, records and timings (gpu_check.tar.gz, no images or checkpoints).
# The second call carries nothing: the pack, the decoded data and the running check stay on the warm
# machine. Of the 15 minutes, a start takes one or two; the calls take 9.7 and 2.2 at most.
# Set GPU_CHECK_OVERRIDES (gpu_check.sh) to rehearse on a CPU, with OUT set to a folder.
set -u
VERB=${1:?start or wait}
LIMIT=${2:-520}
PACK=${PACK:-.gpu_pack}
CHECK=runs/gpu_check
SITE=/tmp/wsps_site
export WSPS_SHARED=${WSPS_SHARED_DEST:-/tmp/wsps_shared} PYTHON=${PYTHON:-python3} PYTHONUNBUFFERED=1
export PYTHONPATH="$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT=${OUT:?the folder whose files come back}

if [ "$VERB" = start ]; then
  mkdir -p "$CHECK"
  (
    set -e
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$PACK"/wheels/*.whl
    $PYTHON benchmarks/gpu_pack.py --unpack "$PACK" "$WSPS_SHARED" &
    decoding=$!
    $PYTHON -m pip wheel -q --no-index --no-deps --no-build-isolation -w /tmp/wsps_built "$PACK"/sdist/*.tar.gz
    $PYTHON -m pip install -q --no-index --no-deps --no-compile --target "$SITE" /tmp/wsps_built/*.whl
    wait $decoding
    $PYTHON -c "import torch, pydensecrf.densecrf, hydra, segmentation_models_pytorch, wsps
print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), wsps.CONFIG_DIR)"
  ) > "$OUT/setup.log" 2>&1 || { tail -20 "$OUT/setup.log"; echo "setup failed: $OUT/setup.log"; exit 1; }
  cat "$OUT/setup.log"
  cp "$OUT/setup.log" "$CHECK/setup.log"
  setsid nohup benchmarks/gpu_check.sh "$WSPS_SHARED/data/camvid" "$CHECK" > "$CHECK/check.log" 2>&1 < /dev/null &
fi

if [ ! -e "$CHECK/check.log" ]; then
  echo "no check was started on this machine (a fresh one?): call benchmarks/gpu_device.sh start first"
  exit 1
fi
end=$((SECONDS + LIMIT))
while [ ! -e "$CHECK/done" ] && [ $SECONDS -lt $end ]; do sleep 5; done
[ -e "$CHECK/done" ] && echo "the check is done" || echo "the check goes on (call: benchmarks/gpu_device.sh wait N)"
$PYTHON benchmarks/gpu_summary.py "$CHECK" | tee "$OUT/summary.txt"
find "$CHECK" -type f \( -name '*.log' -o -name '*.json' -o -name '*.csv' -o -name '*.txt' -o -name '*.md' \
  -o -name '*.yaml' -o -name '*.seconds' \) -print0 | tar czf "$OUT/gpu_check.tar.gz" --null -T -
