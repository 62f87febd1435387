"""Run the GT generation over a dataset: the id list, this shard of it, every image."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from wsps.gt.options import GTOptions
from wsps.gt.pipeline import process_image
from wsps.io import read_id_list
from wsps.runner import Summary, collect, keep_freed_memory, map_images, shard

log = logging.getLogger(__name__)


def run(opts: GTOptions) -> Summary:
    """Generate the GT for every image of this shard of the list; never stops on a bad image."""
    ids = shard(read_id_list(Path(opts.data_root, opts.list_path)), opts.shard_index, opts.num_shards)
    keep_freed_memory()
    if not (opts.save_sem or opts.save_ins or opts.visualise_results):
        log.warning("save_sem, save_ins and visualise_results are all false: nothing will be written")
    log.info(
        "generating GT for %d image(s) (shard %d of %d) from %s into %s",
        len(ids),
        opts.shard_index,
        opts.num_shards,
        Path(opts.pred_root, opts.pred_dir),
        opts.pred_root,
    )
    summary = collect(map_images(partial(process_image, opts), ids, opts.num_workers, "generate_gt"), len(ids))
    log.info("%s", summary)
    return summary
