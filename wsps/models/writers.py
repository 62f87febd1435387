"""Prediction writers: the files the next step of the method reads, one set per image.

The network runs in batches in the trainer's process; each image's CPU work after it (the model's
`finish_image`: superpixels, dense CRF, panoptic post-processing) and the encoding and writing of
its files run in a pool of `num_workers` processes. At most `in_flight` images per worker wait
in the pool, so memory stays bounded; the network waits when the pool is full. The files are the
same whatever the number of workers (0: everything in the trainer's process, in order). An image
whose work fails is reported in one line and the others go on; the writer raises at the end,
naming how many failed. At the end it logs its rate: `<writer>: N images in S s (R img/s, P pool
processes)`, from the prediction's start to the last file written, the network's time included
(`benchmarks/gpu_summary.py` reads it).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from pytorch_lightning.callbacks import BasePredictionWriter

from wsps.io import InputError
from wsps.models import jobs
from wsps.models.jobs import CamLabelFiles, SegmentationFiles, finish_and_save

log = logging.getLogger(__name__)


def pool_size(num_workers: int | str, on_cpu: bool, cores: int | None = None) -> int:
    """The writer's processes: a number as given, or `auto`: the cores the network does not use.
    That is none when it runs on the CPU, whose threads it and the per-image work (torch's
    post-processing, OpenCV) already share: on 2 cores a pool was no faster than none
    (docs/cityscapes.md). Beside a GPU, every core but the one that drives it."""
    if num_workers != "auto":
        count = int(num_workers)
        if count < 0:
            raise ValueError(f"writer.num_workers={num_workers}: give 0 (no pool), a count or auto")
        return count
    cores = cores or len(os.sched_getaffinity(0))
    return 0 if on_cpu else max(1, cores - 1)


class PooledWriter(BasePredictionWriter):
    """A prediction writer whose per-image work runs in a process pool (the module's docstring).
    The model's `predict_step` returns one dict of numpy arrays per image, with its `id`; the
    model's `finish_image()` turns an image's arrays into results and the subclass's `files()`
    saves them.

    Args:
        num_workers: pool processes, `auto` (`pool_size`) or 0 for none.
        in_flight: images per process that may wait in the pool before the network waits.
    """

    def __init__(self, num_workers: int | str, in_flight: int):
        super().__init__(write_interval="batch")
        self.num_workers, self.in_flight = num_workers, in_flight
        self._pool: ProcessPoolExecutor | None = None
        self._pending: list[tuple[str, Future]] = []
        self._failures: list[str] = []
        self._images = 0
        self._job: Callable | None = None
        self._started, self._workers = 0.0, 0

    def files(self) -> Callable[[str, dict], None]:
        raise NotImplementedError

    def output_root(self) -> Path:
        raise NotImplementedError

    def on_predict_start(self, trainer, pl_module):
        self._pending, self._failures, self._images = [], [], 0
        self._started = time.perf_counter()
        workers = pool_size(self.num_workers, on_cpu=pl_module.device.type == "cpu")
        self._job = (pl_module.finish_image(), self.files())
        self._pool = None
        if workers:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([jobs.__name__, "wsps.models.finish"])
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=jobs.one_thread)
        self._limit = max(1, workers) * self.in_flight
        self._workers = workers

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        finish, save = self._job
        for item in prediction:
            image_id = item.pop("id")
            self._images += 1
            if self._pool is None:
                try:
                    finish_and_save(finish, save, image_id, item)
                except Exception as err:  # noqa: BLE001  one image's failure is reported, the others go on
                    self._failed(image_id, err)
                continue
            self._pending.append((image_id, self._pool.submit(finish_and_save, finish, save, image_id, item)))
            if len(self._pending) >= self._limit:
                self._drain(keep=self._limit // 2)

    def _failed(self, image_id: str, err: BaseException) -> None:
        message = f"{image_id}: {type(err).__name__}: {err}".splitlines()[0]
        log.error("prediction of %s", message)
        self._failures.append(message)

    def _drain(self, keep: int = 0) -> None:
        while len(self._pending) > keep:
            image_id, future = self._pending.pop(0)
            err = future.exception()
            if isinstance(err, BrokenProcessPool):
                raise err
            if err is not None:
                self._failed(image_id, err)

    def on_predict_end(self, trainer, pl_module):
        try:
            self._drain()
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        seconds = time.perf_counter() - self._started
        log.info(
            "%s: %d images in %.1f s (%.2f img/s, %d pool processes)",
            type(self).__name__,
            self._images,
            seconds,
            self._images / max(seconds, 1e-9),
            self._workers,
        )
        if self._failures:
            raise InputError(
                self.output_root(),
                f"{len(self._failures)} of {self._images} images' predictions failed, the others were written "
                f"(first: {self._failures[0]})",
            )


class CamLabelWriter(PooledWriter):
    """The classifier's CAM label maps: `output_dir/<template % id>` (palette PNG), the input of
    generate_gt's first-round preset. Arguments: conf/writer/cam_labels.yaml."""

    def __init__(self, output_dir: str, template: str, num_workers: int | str, in_flight: int):
        super().__init__(num_workers, in_flight)
        self.output_dir, self.template = Path(output_dir), template

    def files(self) -> CamLabelFiles:
        return CamLabelFiles(self.output_dir, self.template)

    def output_root(self) -> Path:
        return self.output_dir


class SegmentationWriter(PooledWriter):
    """The segmenter's predictions under `pred_root`: raw labels `pred_dir/<id>_leftImg8bit.png`
    (palette PNG), winning softmax scores `pred_score_dir/<id>_leftImg8bit.mat` (variable
    `feat`, float32), and the panoptic map in cityscapesscripts' format in `panoptic_dir`.
    Arguments: conf/writer/segmentation.yaml."""

    def __init__(
        self,
        pred_root: str,
        thing_classes: Sequence[int],
        pred_dir: str,
        pred_score_dir: str,
        panoptic_dir: str,
        pred_template: str,
        pred_score_template: str,
        num_workers: int | str,
        in_flight: int,
    ):
        super().__init__(num_workers, in_flight)
        self.root = Path(pred_root)
        self.sem_dir, self.score_dir, self.panoptic_dir = (
            self.root / pred_dir,
            self.root / pred_score_dir,
            self.root / panoptic_dir,
        )
        self.pred_template, self.pred_score_template = pred_template, pred_score_template
        self.thing_classes = tuple(thing_classes)

    def files(self) -> SegmentationFiles:
        return SegmentationFiles(
            self.sem_dir,
            self.score_dir,
            self.panoptic_dir,
            self.pred_template,
            self.pred_score_template,
            self.thing_classes,
        )

    def output_root(self) -> Path:
        return self.root
