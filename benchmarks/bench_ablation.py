"""The weak loop's ablation: the paper's method, each of our extensions added alone, all of them.

    python benchmarks/bench_ablation.py [--variants paper +tag_loss ... all all+ema_teacher] [--seeds 0 1 2]
                                        [--camvid] [--profile long]

The extensions and the overrides that switch each off are listed in benchmarks/ablation.yaml.
`paper` switches every one off; `+<name>` every one but <name>; `all` none (the default loop);
`all-<name>` only <name>; `all+<candidate>` adds one of the file's candidates (an EMA teacher,
a fresh start, ...) to the default; `full+<control>` switches one of the file's controls on over
the full-supervision reference (what a setting of the weak loop gives a model trained on the
true labels; its ratio column is against `full`). Without --variants: every variant.
Every variant runs as a weak loop, and full supervision runs once per seed as the reference,
all with the file's `shared` overrides (every round is run), into runs/bench_ablation/ (CamVid:
runs/bench_ablation_camvid/, `experiment=camvid`, converting
../shared/data/camvid into data/camvid first if need be; `--profile long`: `experiment=long`, into
runs/bench_ablation_long/). Runs resume: a second call only prints. A weak variant whose steps
before round 1 are another's (same classifier and cue overrides) copies them from that variant's
finished run of the same seed (`loop.reuse_from`). Prints per variant the mean
and range over seeds of the last round's PQ, PQ_th, PQ_st and mIoU on val, weak / full per seed,
the mean PQ and pseudo-GT mIoU per round, the round at which the reference's stopping rule
(the training loss falling by less than 2%) would have stopped each seed, and the last round's
per-class IoU (mean over seeds) with each variant's classes below half of full supervision's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_camvid import convert_once  # noqa: E402
from bench_loop import run_modes, spread  # noqa: E402

ABLATION = REPO / "benchmarks" / "ablation.yaml"
TOLERANCE = 0.02  # the reference's stopping rule (conf/stage/loop.yaml's default)


def variant_overrides(extensions: dict, off: list[str]) -> list[str]:
    """train.py overrides that switch the extensions `off` off: `loop` entries as they are, the
    others gathered per step into `++loop.variant.<step>=[...]`."""
    per_step: dict[str, list[str]] = {}
    overrides = []
    for name in off:
        for step, values in extensions[name].items():
            if step == "loop":
                overrides += list(values)
            else:
                per_step.setdefault(step, []).extend(values)
    quoted = {step: ",".join(f'"{v}"' for v in values) for step, values in per_step.items()}
    return overrides + [f"++loop.variant.{step}=[{values}]" for step, values in quoted.items()]


def variants(
    extensions: dict,
    names: list[str] | None = None,
    candidates: dict | None = None,
    controls: dict | None = None,
) -> dict[str, list[str]]:
    """Each variant's overrides: `paper`, `+<extension>` for each, `all`, `all-<extension>` for
    each (the default without it), `all+<candidate>` for each candidate (switched on over the
    default) and `full+<control>` for each control (switched on over full supervision); or those
    of `names`."""
    every = list(extensions)
    table = {"paper": variant_overrides(extensions, every)}
    for name in every:
        table[f"+{name}"] = variant_overrides(extensions, [e for e in every if e != name])
    table["all"] = []
    for name in every:
        table[f"all-{name}"] = variant_overrides(extensions, [name])
    for name in candidates or {}:
        table[f"all+{name}"] = variant_overrides(candidates, [name])
    for name in controls or {}:
        table[f"full+{name}"] = ["loop.supervision=full", *variant_overrides(controls, [name])]
    if names:
        unknown = [n for n in names if n not in table]
        if unknown:
            raise SystemExit(f"unknown variants {unknown}; choose from {list(table)}")
        table = {n: table[n] for n in names}
    return table


#: Override prefixes that change the steps before round 1 (prepare, cues, the classifier and its CAM labels).
BEFORE_ROUNDS = (
    "experiment=",
    "loop.steps.",
    "++loop.variant.prepare",
    "++loop.variant.cues",
    "++loop.variant.classifier",
)


def donors(modes: dict[str, list[str]], elsewhere: str | None = None) -> dict[str, list[str]]:
    """Per weak mode, the other modes whose overrides of the steps before round 1 are the same:
    it copies the prepare, cues and classifier of one that finished, for the same seed (the
    newest first, `loop.reuse_from`; the loop passes over one whose configs differ, and where
    none fits the mode runs them itself). Those steps are deterministic for a seed: the copy is
    what the run would compute, in seconds instead of about 6 minutes. `elsewhere`: another runs
    folder whose modes of the same group are donors too (`folder/mode`; the long profile differs
    from the default only in the rounds' epochs)."""
    groups: dict[tuple, list[str]] = {}
    chosen = {}
    for mode, overrides in modes.items():
        if "loop.supervision=full" in overrides:
            continue
        groups.setdefault(tuple(o for o in overrides if o.startswith(BEFORE_ROUNDS)), []).append(mode)
    for group in groups.values():
        for i, mode in enumerate(group):
            chosen[mode] = [*(f"{elsewhere}/{m}" for m in group if elsewhere), *group[:i], *group[i + 1 :]]
    return {mode: earlier for mode, earlier in chosen.items() if earlier}


def stop_round(rounds: list[dict], tolerance: float = TOLERANCE) -> int:
    """The round at which the reference's rule would have stopped: the first whose training loss
    fell by less than `tolerance` of the previous round's (the last round if none did)."""
    for k in range(1, len(rounds)):
        previous, loss = rounds[k - 1]["train_loss"], rounds[k]["train_loss"]
        if previous is not None and loss is not None and previous - loss < tolerance * previous:
            return k + 1
    return len(rounds)


def classes_short(weak: dict[str, float], full: dict[str, float], ratio: float = 0.5, floor: float = 0.1) -> list[str]:
    """The classes whose weak IoU is below `ratio` of full supervision's, of those where full's is
    at least `floor` (issue 30's per-class target on CamVid)."""
    return [name for name, iou in full.items() if iou >= floor and weak.get(name, 0.0) < ratio * iou]


def per_class(per_seed: dict[int, dict[str, dict]], name: str) -> dict[str, float]:
    """The mean over seeds of the last round's per-class IoU on val of variant `name`."""
    ious = [per_seed[s][name]["rounds"][-1]["iou"]["model"] for s in per_seed]
    return {c: float(np.mean([i[c] for i in ious])) for c in ious[0]}


def report(per_seed: dict[int, dict[str, dict]], names: list[str]) -> None:
    seeds = list(per_seed)
    print(f"\nlast round on val, mean [min, max] over seeds {seeds}")
    print(f"{'variant':24s} {'PQ':>21s} {'PQ_th':>21s} {'PQ_st':>21s} {'mIoU':>21s}  weak/full PQ, mIoU per seed")
    for name in ["full", *names]:
        finals = [per_seed[s][name]["final"] for s in seeds]
        row = " ".join(f"{spread([f[k] for f in finals]):>21s}" for k in ("PQ", "PQ_th", "PQ_st", "mIoU"))
        ratios = ""
        if name != "full":
            pq, miou = (
                [per_seed[s][name]["final"][m] / per_seed[s]["full"]["final"][m] for s in seeds] for m in ("PQ", "mIoU")
            )
            ratios = (
                ", ".join(f"{a:.2f}/{b:.2f}" for a, b in zip(pq, miou))
                + f" (mean {np.mean(pq):.2f}/{np.mean(miou):.2f})"
            )
        print(f"{name:24s} {row}  {ratios}")
    print("\nper round, mean over seeds: model PQ on val | pseudo-GT mIoU on train | stopping rule's round per seed")
    for name in ["full", *names]:
        runs = [per_seed[s][name]["rounds"] for s in seeds]
        depth = min(len(r) for r in runs)
        pq = " ".join(f"{np.mean([r[k]['model']['PQ'] for r in runs]):.3f}" for k in range(depth))
        gt = " ".join(
            f"{np.mean([r[k]['pseudo_gt']['mIoU'] for r in runs]):.3f}" if runs[0][k]["pseudo_gt"] else "-"
            for k in range(depth)
        )
        stops = ",".join(str(stop_round(r)) for r in runs)
        print(f"{name:24s} PQ {pq} | GT {gt} | stop {stops}")
    ious = {name: per_class(per_seed, name) for name in ["full", *names]}
    print(
        "\nper-class IoU of the last round on val, mean over seeds\n"
        + f"{'class':16s}"
        + " ".join(f"{n:>12s}" for n in ious)
    )
    for c in ious["full"]:
        print(f"{c:16s}" + " ".join(f"{v[c]:12.3f}" for v in ious.values()))
    for name in names:
        short = classes_short(ious[name], ious["full"])
        print(f"{name}: below 0.5x full (where full >= 0.1): {', '.join(short) or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--camvid", action="store_true")
    parser.add_argument("--profile", choices=["default", "long"], default="default")
    args = parser.parse_args()
    config = OmegaConf.to_container(OmegaConf.load(ABLATION))
    sections = config["extensions"], config.get("candidates"), config.get("controls")
    table = variants(sections[0], args.variants, *sections[1:])
    experiments = (["camvid"] if args.camvid else []) + (["long"] if args.profile == "long" else [])
    base = [*config["shared"], *([f"experiment=[{','.join(experiments)}]"] if experiments else [])]
    every = variants(sections[0], None, *sections[1:])  # donors may be variants not run now
    modes = {"full": [*base, "loop.supervision=full"], **{n: [*base, *o] for n, o in table.items()}}
    default_folder = "bench_ablation" + ("_camvid" if args.camvid else "")
    folder = default_folder + ("_long" if args.profile == "long" else "")
    shared = donors({n: [*base, *o] for n, o in every.items()}, default_folder if folder != default_folder else None)
    data = REPO / "data" / ("camvid" if args.camvid else "synthetic")
    if args.camvid:
        convert_once(data)
    per_seed = {seed: run_modes(modes, str(data), seed, folder, shared) for seed in args.seeds}
    report(per_seed, list(table))


if __name__ == "__main__":
    main()
