"""Pseudo ground truth from predictions or cues: `python generate_gt.py [key=value ...]`.

A port of the reference MATLAB release, the same as the installed `wsps-generate-gt`; see
docs/generate_gt.md for every option and the presets.
"""

from wsps.cli import generate_gt_main

if __name__ == "__main__":
    generate_gt_main()
