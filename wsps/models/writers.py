"""Prediction writers: the files the next step of the method reads, one set per image."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from pytorch_lightning.callbacks import BasePredictionWriter

from wsps.eval.panoptic import write_panoptic
from wsps.io import write_label_png, write_score_mat


class CamLabelWriter(BasePredictionWriter):
    """The classifier's CAM label maps: `output_dir/<template % id>` (palette PNG), the input of
    generate_gt's first-round preset. Arguments: conf/writer/cam_labels.yaml."""

    def __init__(self, output_dir: str, template: str):
        super().__init__(write_interval="batch")
        self.output_dir, self.template = Path(output_dir), template

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        for image_id, label in zip(prediction["id"], prediction["cam_label"]):
            write_label_png(self.output_dir / (self.template % image_id), label)


class SegmentationWriter(BasePredictionWriter):
    """The segmenter's predictions under `pred_root`: raw labels `pred_dir/<id>_leftImg8bit.png`
    (palette PNG), winning softmax scores `pred_score_dir/<id>_leftImg8bit.mat` (variable
    `feat`, float32), and the panoptic map in cityscapesscripts' format in `panoptic_dir`.

    Files are written by `threads` background threads (mostly compression, which releases the
    GIL), so that the model does not wait for the disk. Arguments: conf/writer/segmentation.yaml."""

    def __init__(
        self,
        pred_root: str,
        thing_classes: Sequence[int],
        pred_dir: str,
        pred_score_dir: str,
        panoptic_dir: str,
        pred_template: str,
        pred_score_template: str,
        threads: int,
    ):
        super().__init__(write_interval="batch")
        root = Path(pred_root)
        self.sem_dir, self.score_dir, self.panoptic_dir = root / pred_dir, root / pred_score_dir, root / panoptic_dir
        self.pred_template, self.pred_score_template = pred_template, pred_score_template
        self.thing_classes = tuple(thing_classes)
        self.threads = threads
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def _write(self, item: dict) -> None:
        image_id = item["id"]
        write_label_png(self.sem_dir / (self.pred_template % image_id), item["sem"])
        write_score_mat(self.score_dir / (self.pred_score_template % image_id), item["score"])
        write_panoptic(self.panoptic_dir, image_id, item["panoptic_sem"], item["panoptic_inst"], self.thing_classes)

    def on_predict_start(self, trainer, pl_module):
        self._pool = ThreadPoolExecutor(max_workers=max(1, self.threads))

    def write_on_batch_end(self, trainer, pl_module, prediction, batch_indices, batch, batch_idx, dataloader_idx=0):
        self._pending += [self._pool.submit(self._write, item) for item in prediction]
        if len(self._pending) > 4 * self.threads:  # bound the images held in memory
            self._drain(keep=2 * self.threads)

    def _drain(self, keep: int = 0) -> None:
        while len(self._pending) > keep:
            self._pending.pop(0).result()  # re-raises a failed write

    def on_predict_end(self, trainer, pl_module):
        try:
            self._drain()
        finally:
            self._pool.shutdown(wait=True)
