#!/usr/bin/env bash
# The GPU node check, as one command on a machine with a GPU (from the repository root):
#
#     benchmarks/gpu_check.sh [CAMVID_SRC] [OUT]
#
# CAMVID_SRC: the raw CamVid folder (train/, trainannot/, val/, valannot/; default ../shared/data/camvid),
# converted into data/camvid first unless that exists. OUT: default runs/gpu_check. In order, each
# step timed and stopped at its time limit, so that the first results survive a machine taken back early:
#   1. the CamVid weak loop, experiment=camvid_gpu, every round (the steps' seconds, each training's
#      seconds and each writer's images/s from its log), with nvidia-smi sampling the GPU's use every
#      second: the share of the segmenter's training time the GPU was busy. Limit WEAK_LIMIT
#      (600 s: the issue's target is 10 minutes);
#   2. benchmarks/bench_crf.py --device cuda: the torch CRF on the GPU against pydensecrf (CRF_LIMIT, 90 s);
#   3. benchmarks/bench_scale.py --gpu --parts writers: both writers at 1024x2048 with 1 and 15 pool
#      processes (SCALE_LIMIT, 300 s);
#   4. the CamVid full loop, as 1 (FULL_LIMIT, 600 s).
# GPU_CHECK_OVERRIDES: more overrides for both loops (a rehearsal on a CPU: trainer=cpu for the networks).
# Prints one summary at the end and leaves OUT/done; everything is also under OUT.
# benchmarks/gpu_device.sh runs this on a lent machine (../.library/device).
set -u
SRC=${1:-../shared/data/camvid}
OUT=${2:-runs/gpu_check}
PY=${PYTHON:-python}
read -r -a EXTRA <<< "${GPU_CHECK_OVERRIDES:-}"
mkdir -p "$OUT"
rm -f "$OUT/done"
trap 'kill $SAMPLER 2>/dev/null; touch "$OUT/done"' EXIT
SAMPLER=
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1
nproc > "$OUT/cores.txt"
if [ ! -d data/camvid ]; then
  $PY -m wsps.data.camvid src="$SRC" data_root=data/camvid num_workers="$(nproc)" > "$OUT/convert.log" 2>&1
fi
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 1 > "$OUT/gpu_use.csv" 2>&1 &
SAMPLER=$!

loop() {  # loop SUPERVISION LIMIT: the whole CamVid loop, wall seconds and exit code in OUT/<supervision>.seconds
  local start=$SECONDS
  timeout "$2" $PY train.py experiment=camvid_gpu data_root=data/camvid loop.supervision="$1" loop.name="gpu_$1" \
    logger=csv hydra.run.dir="$OUT/$1" "${EXTRA[@]}" > "$OUT/$1.log" 2>&1
  echo "$? $((SECONDS - start))" > "$OUT/$1.seconds"
}

loop weak "${WEAK_LIMIT:-600}"
timeout "${CRF_LIMIT:-90}" $PY benchmarks/bench_crf.py --device cuda --cityscapes 5 --camvid 10 > "$OUT/crf.txt" 2>&1
timeout "${SCALE_LIMIT:-300}" $PY benchmarks/bench_scale.py --gpu --parts writers \
  --writer-workers 1 "$(($(nproc) - 1))" --out "$OUT/scale" > "$OUT/scale.txt" 2>&1
loop full "${FULL_LIMIT:-600}"
$PY benchmarks/gpu_summary.py "$OUT" | tee "$OUT/summary.txt"
