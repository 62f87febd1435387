"""wsps: weakly- and semi-supervised panoptic segmentation (Li, Arnab, Torr, ECCV 2018)."""

__version__ = "0.1.0"
