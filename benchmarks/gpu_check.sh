#!/usr/bin/env bash
# The GPU node check, as one command on a machine with a GPU (from the repository root):
#
#     benchmarks/gpu_check.sh [CAMVID_SRC] [OUT]
#
# CAMVID_SRC: the raw CamVid folder (train/, trainannot/, val/, valannot/; default ../shared/data/camvid),
# converted into data/camvid first unless that exists. OUT: default runs/gpu_check. In order, each
# step timed, so that the first results survive a machine taken back early:
#   1. the CamVid weak loop, experiment=camvid_gpu, every round (per step seconds from its log),
#      with nvidia-smi sampling the GPU's use every second: the share of the segmenter's training
#      time the GPU was busy;
#   2. benchmarks/bench_crf.py --device cuda: the torch CRF on the GPU against pydensecrf;
#   3. benchmarks/bench_scale.py --gpu --parts writers: both writers at 1024x2048 with 1 and 15 pool processes;
#   4. the CamVid full loop, as 1.
# Prints one summary at the end; everything is also under OUT.
set -u
SRC=${1:-../shared/data/camvid}
OUT=${2:-runs/gpu_check}
PY=${PYTHON:-python}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
nproc | tee "$OUT/cores.txt"
if [ ! -d data/camvid ]; then
  $PY -m wsps.data.camvid src="$SRC" data_root=data/camvid num_workers="$(nproc)" > "$OUT/convert.log" 2>&1
fi
nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv,noheader -l 1 > "$OUT/gpu_use.csv" &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null' EXIT

loop() {  # loop SUPERVISION: the whole CamVid loop on the GPU, wall seconds in OUT/<supervision>.seconds
  local start=$SECONDS
  $PY train.py experiment=camvid_gpu data_root=data/camvid loop.supervision="$1" loop.name="gpu_$1" \
    hydra.run.dir="$OUT/$1" > "$OUT/$1.log" 2>&1
  echo "$? $((SECONDS - start))" > "$OUT/$1.seconds"
}

loop weak
$PY benchmarks/bench_crf.py --device cuda > "$OUT/crf.txt" 2>&1
$PY benchmarks/bench_scale.py --gpu --parts writers --writer-workers 1 "$(($(nproc) - 1))" --out "$OUT/scale" \
  > "$OUT/scale.txt" 2>&1
loop full
kill $SAMPLER 2>/dev/null
$PY benchmarks/gpu_summary.py "$OUT"
