"""Evaluation: mIoU (torchmetrics) and PQ (cityscapesscripts' panoptic evaluation)."""
