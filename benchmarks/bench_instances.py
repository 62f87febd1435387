"""Where PQ of things is lost: a trained segmenter under oracles, and the pseudo-GT's instances.

    python benchmarks/bench_instances.py RUN [--round K] [--dataset synthetic] [--data data/synthetic]

RUN is a loop run folder (runs/bench/full, runs/bench/weak, ...) or a segmenter checkpoint. From round K's segmenter
checkpoint (the last round by default) on the validation split it prints PQ_th under four
oracles: (a) as predicted; (b) true semantics with the predicted centres and offsets;
(c) predicted semantics with the true instance grouping of its thing pixels; (d) predicted
semantics, true centres, predicted offsets (`wsps.instances`). Then PQ, RQ, SQ and recall
per thing class and per size bin of (a), and the same breakdown of round K's pseudo-GT instances
(generate_gt's maps) against the true labels of the training split, when the run has them.
`--center-threshold`, `--nms-kernel`, `--thing-area` replace the checkpoint's post-processing;
`--json F` writes every figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from wsps.data.cityscapes import LabelSource  # noqa: E402
from wsps.data.datamodules import PanopticDataset  # noqa: E402
from wsps.data.metadata import dataset_meta  # noqa: E402
from wsps.eval.evaluator import PanopticEvaluator  # noqa: E402
from wsps.instances import breakdown, match_things, true_centres, true_grouping, true_semantics  # noqa: E402
from wsps.io import read_id_list  # noqa: E402
from wsps.models.segmenter import PanopticSegmenter  # noqa: E402

ORACLES = {
    "a": "as predicted",
    "b": "true semantics, predicted centres + offsets",
    "c": "predicted semantics, true grouping",
    "d": "predicted semantics + offsets, true centres",
}


def checkpoint_of(run: Path, round_k: int | None) -> tuple[int, Path]:
    """Round K's (default: the last round's) segmenter checkpoint of a loop run, or `run` itself
    when it is a checkpoint file (round 0: no pseudo-GT to read)."""
    if run.is_file():
        return 0, run
    rounds = sorted(int(p.name.split("_")[1]) for p in run.glob("round_*") if (p / "segmenter").is_dir())
    if not rounds:
        raise SystemExit(f"{run}: no round_*/segmenter folder")
    k = round_k or rounds[-1]
    found = sorted((run / f"round_{k}" / "segmenter" / "checkpoints").glob("*.ckpt"))
    if not found:
        raise SystemExit(f"{run}/round_{k}/segmenter/checkpoints: no checkpoint")
    return k, found[-1]


@torch.no_grad()
def model_oracles(ckpt: Path, meta, data: Path, split: str, limit: int | None, post_overrides: dict) -> dict:
    """PQ of every oracle (cityscapesscripts, as the loop reports it) and the matched records of
    each; `post_overrides` replace the checkpoint's post-processing settings."""
    model = PanopticSegmenter.load_from_checkpoint(ckpt, map_location="cpu").eval()
    h = model.hparams
    h.update({k: v for k, v in post_overrides.items() if v is not None})
    post = model.panoptic_options()
    ids = read_id_list(meta.list_path(data, split))[:limit]
    dataset = PanopticDataset(data, split, ids, meta, mode="val")
    work = Path(tempfile.mkdtemp(prefix="bench_instances_"))
    evaluators = {k: PanopticEvaluator(meta, data, split, work / k) for k in ORACLES}
    records = {k: [] for k in ORACLES}
    for item in tqdm(dataset, desc="val images", leave=False):
        out = model(item["image"][None])
        sem = out["sem"][0].argmax(0)
        center, offset = out["center"][0], out["offset"][0]
        true_sem, true_inst = item["sem"].numpy(), item["inst"].numpy()
        maps = {
            "a": model.panoptic(out, 0),
            "b": true_semantics(true_sem, center, offset, meta.thing_classes, **post),
            "c": true_grouping(sem.numpy(), true_inst, meta.thing_classes, h.ignore_label),
            "d": true_centres(sem, offset, true_inst, meta.thing_classes, h.ignore_label),
        }
        for k, (p_sem, p_inst) in maps.items():
            p_sem, p_inst = np.asarray(p_sem), np.asarray(p_inst)
            evaluators[k].process(item["id"], sem.numpy(), truth=true_sem, panoptic=(p_sem, p_inst))
            records[k] += match_things(p_sem, p_inst, true_sem, true_inst, meta.thing_classes, h.ignore_label)
    return {k: {"PQ_th": evaluators[k].evaluate()["PQ_th"], "records": records[k]} for k in ORACLES}


def pseudo_gt_records(run: Path, round_k: int, meta, data: Path, split: str, limit: int | None) -> list[dict] | None:
    folder = run / f"round_{round_k}" / "pseudo_gt"
    if not (folder / "ins").is_dir():
        return None
    ids = read_id_list(meta.list_path(data, split))[:limit]
    source = LabelSource(str(folder / "sem"), str(folder / "ins"), meta.pred_template)
    records = []
    for image_id in tqdm(ids, desc="pseudo-GT", leave=False):
        p_sem, p_inst = meta.read_targets(data, split, image_id, source)
        t_sem, t_inst = meta.read_targets(data, split, image_id, LabelSource())
        records += match_things(p_sem, p_inst, t_sem, t_inst, meta.thing_classes, meta.ignore_label)
    return records


def print_table(title: str, table: dict[str, dict]) -> None:
    print(f"\n{title}\n{'':24s} {'PQ':>6s} {'RQ':>6s} {'SQ':>6s} {'recall':>6s} {'true':>5s} {'pred':>5s}")
    for name, s in table.items():
        counts = f"{s['true']:5d} {s['predicted']:5d}" if "true" in s else ""
        print(
            f"{name:24s} "
            + " ".join(f"{s[k]:6.3f}" if s[k] == s[k] else f"{'-':>6s}" for k in ("PQ", "RQ", "SQ", "recall"))
            + f" {counts}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--round", type=int, default=None)
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data", type=Path, default=REPO / "data" / "synthetic")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each split")
    parser.add_argument("--json", type=Path, default=None)
    for name in ("center_threshold", "nms_kernel", "thing_area"):
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float if name == "center_threshold" else int,
            help=f"post-processing {name} (default: the checkpoint's)",
        )
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    meta = dataset_meta(args.dataset)
    k, ckpt = checkpoint_of(args.run, args.round)
    print(f"{args.run} round {k}: {ckpt.name}")
    post = {k: getattr(args, k) for k in ("center_threshold", "nms_kernel", "thing_area")}
    oracles = model_oracles(ckpt, meta, args.data, "val", args.limit, post)
    print(f"\nPQ_th on val (cityscapesscripts), round {k}")
    for key, name in ORACLES.items():
        print(f"({key}) {name:48s} {oracles[key]['PQ_th']:.3f}")
    tables = {key: breakdown(o["records"], meta.class_names) for key, o in oracles.items()}
    print_table("(a) as predicted, per class and size (val)", tables["a"])
    print_table("(b) true semantics, per class and size (val)", tables["b"])
    pseudo = pseudo_gt_records(args.run, k, meta, args.data, "train", args.limit) if k else None
    if pseudo is not None:
        tables["pseudo_gt"] = breakdown(pseudo, meta.class_names)
        print_table(f"round {k}'s pseudo-GT against the truth (train)", tables["pseudo_gt"])
    if args.json:
        summary = {"round": k, "PQ_th": {key: o["PQ_th"] for key, o in oracles.items()}, "tables": tables}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
