"""Pseudo ground-truth generation, a port of the reference MATLAB release (spec: gt_generation.md).

Each cleaning stage is a pure function `label -> label` in its own module; `pipeline` composes
them and `job` runs them over a dataset with file I/O at the edges.
"""
