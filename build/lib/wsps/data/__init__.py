"""Datasets: the embedded synthetic streets, Cityscapes-layout readers, targets, data modules."""
