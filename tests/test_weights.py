"""Pretrained encoder weights: local files load exactly, wrong files and offline ImageNet are refused."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from tests.conftest import REPO, run_script
from wsps.data.synthetic import generate
from wsps.io import ConfigError, InputError
from wsps.models.classifier import CropClassifier
from wsps.models.segmenter import PanopticSegmenter
from wsps.models.weights import imagenet_state_dict

NAMES = ["road", "sky", "car"]


def _classifier(weights=None) -> CropClassifier:
    return CropClassifier(NAMES, canvas_size=(64, 128), crop_size=(32, 48), encoder_weights=weights)


def _segmenter(weights=None) -> PanopticSegmenter:
    return PanopticSegmenter(NAMES, thing_classes=[2], encoder_weights=weights)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_a_file_from_a_random_encoder_loads_into_both_networks(tmp_path, suffix):
    torch.manual_seed(1)
    source = _classifier().encoder.state_dict()
    path = tmp_path / f"encoder{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in source.items()}, path)
    else:
        torch.save(source, path)
    torch.manual_seed(2)
    for encoder in (_classifier(path).encoder, _segmenter(path).net.encoder):
        loaded = encoder.state_dict()
        assert loaded.keys() == source.keys()
        assert all(torch.equal(loaded[k], source[k]) for k in source)
    assert not torch.equal(_classifier().encoder.state_dict()[next(iter(source))], next(iter(source.values())))


def test_a_networks_own_state_dict_gives_its_encoder(tmp_path):
    """Keys under `encoder.` (as a whole network's state dict holds them) are taken as the encoder's."""
    torch.manual_seed(3)
    network = _segmenter()
    path = tmp_path / "network.pth"
    torch.save({k: v for k, v in network.net.state_dict().items() if k.startswith("encoder.")}, path)
    loaded = _classifier(path).encoder.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in network.net.encoder.state_dict().items())


def test_mismatching_files_are_refused_naming_the_first_bad_key(tmp_path):
    state = _classifier().encoder.state_dict()
    first, second = list(state)[:2]
    missing = tmp_path / "missing.pth"
    torch.save({k: v for k, v in state.items() if k != second}, missing)
    with pytest.raises(InputError, match=f"missing.pth: encoder weights lack the key {second} "):
        _classifier(missing)
    shaped = tmp_path / "shaped.pth"
    torch.save({**state, first: torch.zeros(1, 2, 3)}, shaped)
    with pytest.raises(InputError, match=rf"key {first}: shape \(1, 2, 3\), expected"):
        _segmenter(shaped)
    extra = tmp_path / "extra.pth"
    torch.save({**state, "head.weight": torch.zeros(1)}, extra)
    with pytest.raises(InputError, match="hold the key head.weight, which the encoder does not have"):
        _classifier(extra)
    with pytest.raises(InputError, match="absent.pth: encoder weights file not found"):
        _classifier(tmp_path / "absent.pth")
    with pytest.raises(InputError, match=r"must be a \.pth, \.pt, \.safetensors file"):
        _classifier(tmp_path / "weights.bin")
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="corrupt.pt: cannot read encoder weights"):
        _classifier(corrupt)


def test_imagenet_offline_fails_at_once_saying_how_to_get_the_file(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"python -m wsps.models.weights tu-regnetx_002 FILE.pth"):
        imagenet_state_dict("tu-regnetx_002")
    with pytest.raises(ConfigError, match="model.encoder_weights=imagenet"):
        _segmenter("imagenet")


def test_train_refuses_a_missing_weights_file_in_one_line(tmp_path):
    generate(tmp_path / "data", num_train=2, num_val=1, height=128, width=256, seed=0)
    missing = tmp_path / "resnet.pth"
    result = run_script(
        [
            str(REPO / "train.py"),
            "stage=segmenter",
            f"data_root={tmp_path / 'data'}",
            f"model.encoder_weights={missing}",
            "logger=csv",
            f"hydra.run.dir={tmp_path / 'run'}",
        ],
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert (
        (result.stdout + result.stderr).strip().splitlines()[-1].endswith(f"{missing}: encoder weights file not found")
    )
    assert "Traceback" not in result.stdout + result.stderr
