"""The method: `python train.py` runs the whole self-training loop on the embedded data;
`python train.py stage=classifier|segmenter [key=value ...]` trains one network.

See README.md and conf/train.yaml.
"""

import hydra
from omegaconf import DictConfig

from wsps.loop import run_loop
from wsps.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    if cfg.stage == "loop":
        results = run_loop(cfg)
        return results["final"].get("PQ")  # for sweepers that optimise a metric
    metrics = train(cfg)
    return metrics.get(cfg.monitor) if cfg.get("monitor") else None


if __name__ == "__main__":
    main()
