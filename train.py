"""The method: `python train.py` runs the whole self-training loop on the embedded data;
`python train.py stage=classifier|segmenter [key=value ...]` trains one network.

The same as the installed `wsps-train`; see README.md and conf/train.yaml.
"""

from wsps.cli import train_main

if __name__ == "__main__":
    train_main()
