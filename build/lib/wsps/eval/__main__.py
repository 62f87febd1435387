"""Score a label folder against the true GT: `python -m wsps.eval data_root=D split=train labels=R`.

`labels` holds `sem_save_dir` and `ins_save_dir` (generate_gt's outputs, or any folders in that
format); prints mIoU (pixels labelled 255 count as misses) and PQ / PQ_th / PQ_st / SQ / RQ
through cityscapesscripts. Options: conf/evaluate.yaml.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import hydra
from hydra.utils import to_absolute_path
from omegaconf import DictConfig

from wsps import CONFIG_DIR
from wsps.data.metadata import meta_for
from wsps.eval.folders import score_label_folder
from wsps.io import ConfigError, InputError, read_id_list
from wsps.runner import finish

log = logging.getLogger("wsps.eval")


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    data_root, labels = Path(to_absolute_path(cfg.data_root)), Path(to_absolute_path(cfg.labels))
    try:
        ids = read_id_list(data_root / cfg.list_path)
        ids = ids[: cfg.limit] if cfg.limit else ids
        ins_dir = labels / cfg.ins_save_dir if cfg.ins_save_dir else None
        scores = score_label_folder(
            meta_for(cfg),
            data_root,
            cfg.split,
            ids,
            labels / cfg.sem_save_dir,
            ins_dir,
            Path(to_absolute_path(cfg.work_dir)),
        )
    except (ConfigError, InputError) as err:
        log.error("%s", err)
        finish(2, str(err))
        return
    log.info(
        "%s, %d images of %s: %s", labels, len(ids), cfg.split, json.dumps({k: round(v, 4) for k, v in scores.items()})
    )


if __name__ == "__main__":
    main()
