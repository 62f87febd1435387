"""Pretrained encoder weights for both networks (`model.encoder_weights`).

`null` leaves the encoder randomly initialised; `imagenet` downloads ImageNet weights through
segmentation-models-pytorch / timm, and fails at once when the machine is offline; a path reads a
state dict (`.pth`, `.pt` or `.safetensors`) of the encoder's own keys (or the same keys under
`encoder.`, as in a network's state dict). On a machine online,

    python -m wsps.models.weights tu-regnetx_002 regnetx_002.pth

writes the ImageNet weights of an encoder to a file that an offline machine can then be given.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import segmentation_models_pytorch as smp
import torch
from torch import nn

from wsps.io import ConfigError, InputError

HUB = ("huggingface.co", 443)
SUFFIXES = (".pth", ".pt", ".safetensors")


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
            f"model.encoder_weights=imagenet: {HUB[0]} cannot be reached to download the weights of {encoder_name}; "
            f"on a machine online run `python -m wsps.models.weights {encoder_name} FILE.pth` and pass "
            "model.encoder_weights=FILE.pth"
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
    state = imagenet_state_dict(encoder_name) if weights == "imagenet" else read_state_dict(weights)
    check_state_dict(state, encoder.state_dict(), weights)
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
