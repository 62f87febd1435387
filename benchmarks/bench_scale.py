"""Benchmark the Cityscapes path at 1024x2048: every stage per image and per worker, the prediction
writers' pool, the training loader against the training step, and a projection of one
Cityscapes round on a 16-core node.

    python benchmarks/bench_scale.py [--parts stages writers training] [--synthetic 4]
                                     [--writer-workers 1 2] [--workers 0 1 2] [--steps 2]
                                     [--out runs/bench_scale] [--gpu]

Data: `--synthetic` synthetic images drawn at 1024x2048 and the five real Cityscapes images of
../shared/data/cityscapes_real (skipped when absent), each laid out as a Cityscapes root whose
val split is its train split.

Stages: each in a child process of its own (one OpenCV thread in the CPU stages, all cores for
the networks), timing every image after the first (start-up and first-call costs are reported
apart) and reporting the child's peak resident memory: prepare (train ids, boxes), cues
(GrabCut, proposals, M&G), CAM inference (the `cityscapes_classifier` network on the 15 crops,
then superpixels, tag mask, CRF), generate_gt's first round, and segmenter prediction
(`cityscapes_segmenter`, then CRF and panoptic maps). For the two networks the network's
seconds and the image's CPU work after it (on one core, with its files written, as a pool
process does it) are timed apart. Both networks are ResNet-50 as configured, randomly
initialised (speed does not depend on the weights).

Writers: both predictions end to end, the network image by image and each image's CPU work in
the writer's pool of each of `--writer-workers` processes (0: none), on the real images (the
synthetic ones without them): images/s, a pool process's peak resident memory, and whether the
files are the same for every pool size. With `--pool-only N` the network's outputs are made
first and each is handed to the pool N times: the pool's own rate, as beside a GPU.

Training: the segmenter's training loader alone (images/s over `--batches` batches, for each of
`--workers`) against the training step's images/s on this CPU (`--steps` steps after one warm-up,
batch `--train-batch`).

Projection (with stages and training): one Cityscapes round (train alone, and with
train_extra) on a 16-core node with 1 and 8 GPUs, from the per-image figures: the CPU stages on
16 processes, the loader's supply with one core per GPU kept for driving it, and the writers'
CPU work on every core but one per GPU. Without a GPU figure the training time printed is the
floor the loader sets.

With `--gpu` (not yet run: no GPU has been available), the networks and the training step run on
the GPU at the configured precision, and the projection uses the measured GPU rates; peak GPU
memory is reported. Writes everything as JSON to `<out>/scale.json`."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

REAL = Path(os.environ.get("WSPS_SHARED", REPO.parent / "shared")) / "data" / "cityscapes_real"
STAGES = ("prepare", "cues", "cam", "generate_gt", "predict")
CPU_STAGES = ("prepare", "cues", "generate_gt")  # one process per core on a node
NETWORK_STAGES = ("cam", "predict")
PARTS = ("stages", "writers", "training")  # what a run measures (--parts)
PEAK_TARGET_MB = 2048
CITYSCAPES = {"train": 2975, "train_extra": 19998}
NODE_CORES = 16


# ----------------------------------------------------------------------------- data


def real_root(out: Path) -> Path | None:
    """The five real images as a Cityscapes root (links, not copies), val the same images."""
    if not REAL.is_dir():
        return None
    root = out / "real"
    ids = sorted(p.name.split("_leftImg8bit")[0] for p in REAL.glob("leftImg8bit/train/*/*_leftImg8bit.png"))
    for split in ("train", "val"):
        for image_id in ids:
            city = image_id.split("_")[0]
            for folder, name in (
                ("leftImg8bit", f"{image_id}_leftImg8bit.png"),
                ("gtFine", f"{image_id}_gtFine_labelIds.png"),
                ("gtFine", f"{image_id}_gtFine_instanceIds.png"),
            ):
                target = root / folder / split / city / name
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.symlink_to(REAL / folder / "train" / city / name)
        (root / "lists").mkdir(parents=True, exist_ok=True)
        (root / "lists" / f"{split}_id.txt").write_text("".join(f"{i}\n" for i in ids))
    return root


def synthetic_root(out: Path, count: int) -> Path:
    """`count` synthetic images at 1024x2048, val the same images."""
    from omegaconf import OmegaConf

    from wsps.data.synthetic import generate

    root = out / "synthetic"
    if not (root / "lists" / "train_id.txt").exists():
        scale = float(OmegaConf.load(REPO / "conf" / "synthetic.yaml").object_scale)
        generate(root, count, 0, 1024, 2048, seed=0, object_scale=scale)
        shutil.copytree(root / "leftImg8bit" / "train", root / "leftImg8bit" / "val", dirs_exist_ok=True)
        shutil.copytree(root / "gtFine" / "train", root / "gtFine" / "val", dirs_exist_ok=True)
        shutil.copy(root / "lists" / "train_id.txt", root / "lists" / "val_id.txt")
    return root


# ----------------------------------------------------------------------------- one stage, in a child


def _compose(config_name: str, overrides: list[str]):
    from hydra import compose, initialize_config_module

    with initialize_config_module("wsps.conf", version_base="1.3"):
        return compose(config_name=config_name, overrides=overrides)


def _network(stage: str, root: Path, work: Path, device: str):
    """The configured network, its data module and its writer for `stage` (cam or predict)."""
    import torch
    from hydra.utils import instantiate

    from wsps.data.metadata import meta_for

    experiment = "cityscapes_classifier" if stage == "cam" else "cityscapes_segmenter"
    trainer = [] if device == "cuda" else ["trainer=cpu"]
    cfg = _compose(
        "train",
        [
            f"stage={'classifier' if stage == 'cam' else 'segmenter'}",
            f"experiment={experiment}",
            *trainer,
            f"data_root={root}",
            f"pred_root={work / 'results'}",
            "model.net.encoder_weights=null",
            *(["model.cam_threshold=0.2"] if stage == "cam" else ["data.val_batch_size=1"]),
            "data.batch_size=1",
            "logger=csv",
            f"paths.output_dir={work / 'run'}",
        ],
    )
    meta = meta_for(cfg)
    datamodule = instantiate(cfg.data, _partial_=True)(data_root=str(root), meta=meta)
    torch.manual_seed(cfg.seed)  # the same random weights in every child: their files compare
    model = instantiate(cfg.model, _convert_="all").to(device).eval()
    writer = instantiate(cfg.writer)
    precision = torch.bfloat16 if device == "cuda" and "bf16" in str(cfg.trainer.precision) else None
    return cfg, datamodule, model, writer, precision


def cpu_stage(stage: str, root: Path, work: Path):
    """The per-image function of a CPU stage (prepare, cues, generate_gt's first round), as its tool
    composes it; it returns the image's `ImageResult`."""
    common = ["dataset=cityscapes", f"data_root={root}"]
    if stage == "prepare":
        from wsps.prepare import PrepareOptions, prepare_image

        cfg = _compose("prepare", [*common, "force_overwrite=true"])
        return partial(prepare_image, PrepareOptions.from_config(cfg))
    if stage == "cues":
        from wsps.cues.job import CueOptions, process_image

        cfg = _compose("cues", [*common, f"pred_root={work / 'results'}", "force_overwrite=true"])
        return partial(process_image, CueOptions.from_config(cfg))
    from omegaconf import OmegaConf

    from wsps.gt.options import GTOptions
    from wsps.gt.pipeline import process_image

    cfg = _compose("generate_gt", [*common, "preset=first_round", f"pred_root={work / 'results'}"])
    return partial(process_image, GTOptions.from_mapping(OmegaConf.to_container(cfg, resolve=True)))


def child(stage: str, root: Path, work: Path, device: str) -> dict:
    """Time every image of `root`'s train split through `stage`; returns seconds per image."""
    import cv2

    from wsps.io import read_id_list

    ids = read_id_list(root / "lists" / "train_id.txt")
    times, finish_times = [], []
    if stage in CPU_STAGES:
        cv2.setNumThreads(1)  # one core per worker; torch is not imported by these stages' workers
        process = cpu_stage(stage, root, work)
        for image_id in ids:
            start = time.perf_counter()
            result = process(image_id)
            times.append(time.perf_counter() - start)
            assert result.status != "failed", result.message
    else:
        import torch

        from wsps.models.jobs import finish_and_save

        model, dataset, writer, precision = _prediction(stage, root, work, device)
        finish, save = model.finish_image(), writer.files()
        for k in range(len(dataset)):
            start = time.perf_counter()
            items = _predict(model, dataset, k, device, precision)
            times.append(time.perf_counter() - start)
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # the image's CPU work after the network on one core, as a pool process does it
            cv2.setNumThreads(1)
            start = time.perf_counter()
            for item in items:
                finish_and_save(finish, save, item.pop("id"), item)
            finish_times.append(time.perf_counter() - start)
            torch.set_num_threads(threads)
            cv2.setNumThreads(-1)
    result = {"stage": stage, "images": len(ids), "seconds": times}
    if stage in NETWORK_STAGES:
        result["finish_seconds"] = finish_times
    if stage in NETWORK_STAGES and device == "cuda":
        result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def _prediction(stage: str, root: Path, work: Path, device: str):
    """The configured network of `stage` (cam or predict) in eval mode, its prediction dataset,
    its writer and its autocast precision."""
    cfg, datamodule, model, writer, precision = _network(stage, root, work, device)
    datamodule.setup("predict")
    return model, datamodule.predict_dataloader().dataset, writer, precision


def _predict(model, dataset, index: int, device: str, precision) -> list[dict]:
    """The network's part of one image's prediction: `predict_step` on a batch of that image."""
    import torch

    batch = torch.utils.data.default_collate([dataset[index]])
    batch = {key: v.to(device) if isinstance(v, torch.Tensor) else v for key, v in batch.items()}
    with torch.no_grad(), torch.autocast(device, dtype=precision, enabled=precision is not None):
        items = model.predict_step(batch, index)
    if device == "cuda":
        torch.cuda.synchronize()
    return items


def writer_child(stage: str, root: Path, work: Path, device: str, workers: int, pool_only: int = 0) -> dict:
    """The whole prediction of `stage` as the trainer runs it: the network image by image, each
    image's CPU work and files in the writer's pool of `workers` processes. Images/s over all
    images (the pool's start included), the peak resident memory of each pool process, and a
    digest of the files written. With `pool_only` N, the network's outputs are made first (not
    timed) and each is handed to the pool N times under N ids: the pool's own rate, as beside a
    GPU whose network leaves the cores to the pool."""
    import threading

    import psutil

    model, dataset, writer, precision = _prediction(stage, root, work, device)
    writer.num_workers = workers
    shutil.rmtree(writer.output_root(), ignore_errors=True)  # the digest is of this run's files alone
    ready = [_predict(model, dataset, k, device, precision) for k in range(len(dataset))] if pool_only else []
    peaks: dict[int, int] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.2):
            for pid in list(getattr(writer._pool, "_processes", None) or {}):
                try:
                    peaks[pid] = max(peaks.get(pid, 0), psutil.Process(pid).memory_info().rss)
                except psutil.NoSuchProcess:
                    pass

    watcher = threading.Thread(target=watch, daemon=True)
    start = time.perf_counter()
    writer.on_predict_start(None, model)
    watcher.start()
    if pool_only:
        feeds = [[dict(item, id=f"{item['id']}_{n}") for item in items] for n in range(pool_only) for items in ready]
    else:
        feeds = (_predict(model, dataset, k, device, precision) for k in range(len(dataset)))
    images = 0
    for k, items in enumerate(feeds):
        writer.write_on_batch_end(None, model, items, None, None, k)
        images += len(items)
    writer.on_predict_end(None, model)
    seconds = time.perf_counter() - start
    done.set()
    watcher.join()
    return {
        "stage": stage,
        "workers": workers,
        "images": images,
        "images_per_s": images / seconds,
        "worker_peak_mb": max(peaks.values(), default=0) / 2**20,
        "digest": tree_digest(writer.output_root()),
    }


def tree_digest(root: Path) -> str:
    """One SHA-256 over every file under `root`: its path relative to `root` and its bytes, or for a
    MAT-file its array (the header holds the time it was written)."""
    import hashlib

    from wsps.io import read_score_mat

    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = read_score_mat(path).tobytes() if path.suffix == ".mat" else path.read_bytes()
        digest.update(str(path.relative_to(root)).encode() + b"\0" + data)
    return digest.hexdigest()


def loader_child(root: Path, workers: int, batches: int, steps: int, train_batch: int, device: str) -> dict:
    """The segmenter's training loader alone, then (workers 0) the training step, in images/s."""
    import torch

    _, datamodule, model, _, precision = _network("predict", root, root.parent / f"work_{root.name}", device)
    datamodule.batch_size, datamodule.num_workers = train_batch, workers  # the weak runs' items, tag maps included
    loader = datamodule.train_dataloader()
    result = {"workers": workers, "batch": train_batch}
    iterator = iter(loader)
    next(iterator)  # workers started, first batch
    start, seen = time.perf_counter(), 0
    for _ in range(batches):
        try:
            batch = next(iterator)
        except StopIteration:
            iterator = iter(loader)
            batch = next(iterator)
        seen += len(batch["image"])
    result["loader_images_per_s"] = seen / (time.perf_counter() - start)
    if steps:
        model.train()
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
        times = []
        for k in range(steps + 1):
            batch = {key: v.to(device) if isinstance(v, torch.Tensor) else v for key, v in batch.items()}
            start = time.perf_counter()
            with torch.autocast(device, dtype=precision, enabled=precision is not None):
                loss = model.losses(model(batch["image"]), batch)["total"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if device == "cuda":
                torch.cuda.synchronize()
            if k:  # the first step warms up
                times.append(time.perf_counter() - start)
        result["train_images_per_s"] = train_batch / (sum(times) / len(times))
        if device == "cuda":
            result["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return result


# ----------------------------------------------------------------------------- parent


def run_child(args: list[str]) -> tuple[dict, float]:
    """Run this script as a child; its JSON result and its peak resident memory in MB."""
    process = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True)
    stdout = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"child {' '.join(args)} failed with exit code {process.returncode}")
    return json.loads(stdout.strip().splitlines()[-1]), usage.ru_maxrss / 1024


def per_image(seconds: list[float]) -> float:
    """Seconds per image after the first (which pays the first call's costs)."""
    rest = seconds[1:] or seconds
    return sum(rest) / len(rest)


def projection(stages: dict, loader: list[dict], gpu: dict | None, epochs: int, rounds: int = 6) -> list[str]:
    """Hours of one Cityscapes round (and of `rounds`) on a 16-core node with 1 and 8 GPUs: the
    CPU stages on every core, the prediction writers' CPU work on every core but one per GPU."""
    lines = []
    widest = max(loader, key=lambda row: row["workers"])  # workers in their own processes, as on a node
    per_core_loader = widest["loader_images_per_s"] / max(widest["workers"], 1)
    finish = {s: per_image(stages[s]["finish_seconds"]) for s in NETWORK_STAGES}
    network = {s: per_image(stages[s]["seconds"]) for s in NETWORK_STAGES}
    for name, images in (("train", CITYSCAPES["train"]), ("train + train_extra", sum(CITYSCAPES.values()))):
        once = sum(per_image(stages[s]["seconds"]) for s in ("prepare", "cues")) * images / NODE_CORES / 3600
        gt = per_image(stages["generate_gt"]["seconds"]) * images / NODE_CORES / 3600
        lines.append(f"{name} ({images} images): prepare + cues once {once:.2f} h; per round generate_gt {gt:.2f} h")
        for gpus in (1, 8):
            cores = (NODE_CORES // gpus - 1) * gpus  # one core per GPU drives it, the rest load
            supply = per_core_loader * cores
            pool = NODE_CORES - gpus  # the writers' processes while the GPUs predict
            if gpu:
                rate = min(gpu["train_images_per_s"] * gpus, supply)
                predict = {s: min(gpu[f"{s}_images_per_s"] * gpus, pool / finish[s]) for s in NETWORK_STAGES}
            else:
                rate = supply
                predict = {s: pool / finish[s] for s in NETWORK_STAGES}
            train_h, predict_h, cam_h = (
                images * epochs / rate / 3600,
                images / predict["predict"] / 3600,
                images / predict["cam"] / 3600,
            )
            hours = train_h + predict_h
            what = (
                f"training {rate:.1f} img/s (loader {supply:.1f} from {cores} workers)"
                if gpu
                else (f"{cores} loading workers supply at most {supply:.1f} img/s (no GPU measured: a floor)")
            )
            lines.append(
                f"  {gpus} GPU(s): {what}: {train_h:.1f} h; predictions {predict['predict']:.2f} img/s "
                f"({pool} writer processes{'' if gpu else ', the network not counted'}): {predict_h:.2f} h; "
                f"{hours:.1f} h per round, {hours * rounds:.1f} h for {rounds} rounds; CAM labels once {cam_h:.2f} h"
            )
    lines.append(
        f"(here: loader {per_core_loader:.2f} img/s per worker at {widest['workers']} worker(s); per image "
        f"network {network['cam']:.1f} s + CPU {finish['cam']:.1f} s (CAM labels), "
        f"{network['predict']:.1f} s + {finish['predict']:.1f} s (predictions))"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "bench_scale")
    parser.add_argument("--synthetic", type=int, default=4, help="synthetic 1024x2048 images")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, os.cpu_count() or 1])
    parser.add_argument(
        "--writer-workers", type=int, nargs="+", default=[1, os.cpu_count() or 1], help="writer pool sizes timed"
    )
    parser.add_argument("--batches", type=int, default=4, help="loader batches timed per worker count")
    parser.add_argument("--steps", type=int, default=2, help="training steps timed (after one warm-up)")
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=100, help="segmenter epochs per round, for the projection")
    parser.add_argument("--gpu", action="store_true", help="networks and training on the GPU")
    parser.add_argument(
        "--pool-only",
        type=int,
        default=0,
        metavar="N",
        help="writers: the network's outputs made first, each handed to the pool N times (the pool's own rate)",
    )
    args = parser.parse_args()
    device = "cuda" if args.gpu else "cpu"

    if args.child == "loader":
        result = loader_child(args.root, args.workers[0], args.batches, args.steps, args.train_batch, device)
        print(json.dumps(result))
        return
    if args.child and args.child.startswith("writer:"):
        stage = args.child.split(":", 1)[1]
        work = args.root.parent / f"work_{args.root.name}_writer"
        print(json.dumps(writer_child(stage, args.root, work, device, args.writer_workers[0], args.pool_only)))
        return
    if args.child:
        print(json.dumps(child(args.child, args.root, args.root.parent / f"work_{args.root.name}", device)))
        return

    args.out.mkdir(parents=True, exist_ok=True)
    roots = {"synthetic": synthetic_root(args.out, args.synthetic)}
    real = real_root(args.out)
    if real is None:
        print(f"real images: {REAL} not found, skipped")
    else:
        roots["real"] = real
    root = roots.get("real", roots["synthetic"])
    gpu = ["--gpu"] if args.gpu else []
    report = {"device": device, "cpu_count": os.cpu_count(), "stages": {}, "writers": [], "loader": []}
    if "stages" in args.parts:
        print(f"{'data':<10} {'stage':<12} {'images':>6} {'first s':>8} {'s/image':>8} {'CPU s':>8} {'peak MB':>8}")
        for name, data in roots.items():
            report["stages"][name] = {}
            for stage in STAGES:
                result, peak = run_child(
                    ["--child", stage, "--root", str(data), *(gpu if stage in NETWORK_STAGES else [])]
                )
                result["peak_mb"] = peak
                report["stages"][name][stage] = result
                print(
                    f"{name:<10} {stage:<12} {result['images']:>6} {result['seconds'][0]:>8.2f} "
                    f"{per_image(result['seconds']):>8.2f} "
                    f"{per_image(result['finish_seconds']) if 'finish_seconds' in result else 0:>8.2f} {peak:>8.0f}"
                    + (f"  GPU peak {result['gpu_peak_mb']:.0f} MB" if "gpu_peak_mb" in result else "")
                )
        print("(network stages: s/image is the network's part, CPU s the image's CPU work after it on one core)")
        worst = {s: max(report["stages"][n][s]["peak_mb"] for n in roots) for s in STAGES}
        print(f"\npeak memory per worker (target <= {PEAK_TARGET_MB} MB in every stage):")
        for stage, peak in worst.items():
            print(f"  {stage:<12} {peak:>6.0f} MB  {'ok' if peak <= PEAK_TARGET_MB else 'OVER'}")

    if "writers" in args.parts:
        if "stages" not in args.parts:
            run_child(["--child", "prepare", "--root", str(root)])  # the tags and labels prediction reads
        what = f"the pool alone, each network output {args.pool_only} times" if args.pool_only else "end to end"
        print(f"\nprediction with the writer's pool on {root.name} ({len(read_ids(root))} images, {device}, {what}):")
        pool_only = ["--pool-only", str(args.pool_only)]
        for stage in NETWORK_STAGES:
            base = digest = None
            for workers in args.writer_workers:
                result, peak = run_child(
                    ["--child", f"writer:{stage}", "--root", str(root), "--writer-workers", str(workers), *gpu]
                    + pool_only
                )
                result["peak_mb"] = peak
                report["writers"].append(result)
                base, digest = base or result["images_per_s"], digest or result["digest"]
                print(
                    f"  {stage:<8} {workers:>2} worker(s): {result['images_per_s']:.3f} img/s "
                    f"({result['images_per_s'] / base:.2f}x), per worker peak {result['worker_peak_mb']:.0f} MB, "
                    f"trainer process peak {peak:.0f} MB, files "
                    + ("the same" if result["digest"] == digest else "DIFFER")
                )

    if "training" in args.parts:
        print(f"\nsegmenter training at crop 512x1024 on {root.name} ({device}):")
        for workers in args.workers:
            steps = args.steps if workers == args.workers[0] else 0  # the training step is timed once
            result, peak = run_child(
                ["--child", "loader", "--root", str(root), "--workers", str(workers), "--batches", str(args.batches)]
                + ["--steps", str(steps), "--train-batch", str(args.train_batch), *gpu]
            )
            result["peak_mb"] = peak
            report["loader"].append(result)
            step = f", training step {result['train_images_per_s']:.3f} img/s" if "train_images_per_s" in result else ""
            print(f"  {workers} worker(s): loader {result['loader_images_per_s']:.2f} img/s{step}, peak {peak:.0f} MB")
        train_rate = next(r["train_images_per_s"] for r in report["loader"] if "train_images_per_s" in r)
        for row in report["loader"]:
            print(f"  loader/step ratio at {row['workers']} worker(s): {row['loader_images_per_s'] / train_rate:.1f}x")

    if {"stages", "training"} <= set(args.parts):
        stages = report["stages"].get("real", report["stages"]["synthetic"])
        measured = None
        if args.gpu:
            measured = {"train_images_per_s": train_rate}
            measured |= {f"{s}_images_per_s": 1 / per_image(stages[s]["seconds"]) for s in NETWORK_STAGES}
        print(f"\nprojection: one round on a {NODE_CORES}-core node ({args.epochs} segmenter epochs):")
        report["projection"] = projection(stages, report["loader"], measured, args.epochs)
        print("\n".join(report["projection"]))
    (args.out / "scale.json").write_text(json.dumps(report, indent=1))


def read_ids(root: Path) -> list[str]:
    from wsps.io import read_id_list

    return read_id_list(root / "lists" / "train_id.txt")


if __name__ == "__main__":
    main()
