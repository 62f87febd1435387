"""Pretrained encoder weights: local files load exactly, wrong files and offline ImageNet are refused."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file
from skimage import data as skdata

from tests.conftest import REPO, run_script
from wsps.data.synthetic import generate
from wsps.io import ConfigError, InputError
from wsps.models.build import build_model
from wsps.models.weights import (
    InputNormalisation,
    efficientnet_pytorch_to_timm,
    imagenet_state_dict,
    input_normalisation,
    packaged_file,
    packaged_state_dict,
    read_state_dict,
)

NAMES = ["road", "sky", "car"]


def _classifier(weights=None, encoder="tu-regnetx_002", **values):
    net = [f"model.net.encoder_name={encoder}", f"model.net.encoder_weights={weights or 'null'}"]
    return build_model("classifier", net, class_names=NAMES, canvas_size=(64, 128), crop_size=(32, 48), **values)


def _segmenter(weights=None, encoder="tu-regnetx_002", **values):
    net = [f"model.net.encoder_name={encoder}", f"model.net.encoder_weights={weights or 'null'}"]
    return build_model("segmenter", net, class_names=NAMES, thing_classes=[2], **values)


@pytest.mark.parametrize("suffix", [".pth", ".pt", ".safetensors"])
def test_a_file_from_a_random_encoder_loads_into_both_networks(tmp_path, suffix):
    torch.manual_seed(1)
    source = _classifier().net.encoder.state_dict()
    path = tmp_path / f"encoder{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in source.items()}, path)
    else:
        torch.save(source, path)
    torch.manual_seed(2)
    for encoder in (_classifier(path).net.encoder, _segmenter(path).net.encoder):
        loaded = encoder.state_dict()
        assert loaded.keys() == source.keys()
        assert all(torch.equal(loaded[k], source[k]) for k in source)
    assert not torch.equal(_classifier().net.encoder.state_dict()[next(iter(source))], next(iter(source.values())))


def test_a_networks_own_state_dict_gives_its_encoder(tmp_path):
    """Keys under `encoder.` (as a whole network's state dict holds them) are taken as the encoder's."""
    torch.manual_seed(3)
    network = _segmenter()
    path = tmp_path / "network.pth"
    torch.save({k: v for k, v in network.net.state_dict().items() if k.startswith("encoder.")}, path)
    loaded = _classifier(path).net.encoder.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in network.net.encoder.state_dict().items())


def test_mismatching_files_are_refused_naming_the_first_bad_key(tmp_path):
    state = _classifier().net.encoder.state_dict()
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
    with pytest.raises(ConfigError, match="model.net.encoder_weights=imagenet"):
        _segmenter("imagenet")


def test_train_refuses_a_missing_weights_file_in_one_line(tmp_path):
    generate(tmp_path / "data", num_train=2, num_val=1, height=128, width=256, seed=0)
    missing = tmp_path / "resnet.pth"
    result = run_script(
        [
            str(REPO / "train.py"),
            "stage=segmenter",
            f"data_root={tmp_path / 'data'}",
            f"model.net.encoder_weights={missing}",
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


def _top1(network: torch.nn.Module, image: np.ndarray, encoder_name: str) -> tuple[int, float]:
    """ImageNet class and probability of an RGB image, resized to 224x224 and normalised as the encoder says."""
    x = torch.from_numpy(cv2.resize(image, (224, 224), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None] / 255
    with torch.no_grad():
        p = network(InputNormalisation(encoder_name)(x)).softmax(dim=1)[0]
    return int(p.argmax()), float(p.max())


def test_the_packaged_lite0_weights_classify_imagenet_images():
    """The package's weights under timm's names, normalised to [-1, 1], make a working ImageNet
    network: a cat (281-285 are the domestic cats) and an espresso (967)."""
    name = "tu-tf_efficientnet_lite0"
    network = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    network.load_state_dict(packaged_state_dict(name))
    cat, p_cat = _top1(network, skdata.chelsea(), name)
    coffee, p_coffee = _top1(network, skdata.coffee(), name)
    assert 281 <= cat <= 285 and p_cat > 0.5
    assert coffee == 967 and p_coffee > 0.5
    # the same network from random weights says neither
    torch.manual_seed(0)
    assert _top1(timm.create_model("tf_efficientnet_lite0", pretrained=False).eval(), skdata.coffee(), name)[0] != 967


def test_imagenet_lite_weights_load_offline_into_both_networks(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # nothing is downloaded
    name = "tu-tf_efficientnet_lite0"
    network = packaged_state_dict(name)
    classifier, segmenter = _classifier("imagenet", name), _segmenter("imagenet", name)
    for encoder in (classifier.net.encoder, segmenter.net.encoder):
        loaded = encoder.state_dict()
        assert len(loaded) == 288  # the network but its head (conv_head, bn2, classifier)
        for key, tensor in loaded.items():
            assert torch.equal(tensor, network[key.removeprefix("model.")])
    assert torch.equal(network["conv_stem.weight"], read_state_dict(packaged_file(name))["_conv_stem.weight"])


def test_package_weights_that_do_not_fit_are_refused_naming_the_key(tmp_path):
    state = read_state_dict(packaged_file("tu-tf_efficientnet_lite0"))
    with pytest.raises(InputError, match=r"296 tensors, but timm's tf_efficientnet_lite1 has"):
        efficientnet_pytorch_to_timm(state, "tf_efficientnet_lite1", "lite0.pth")
    keys = list(state)
    swapped = dict(state)
    swapped[keys[1]], swapped[keys[2]] = state[keys[1]], state[keys[1]][:8]  # _bn0.bias with 8 of 32 values
    with pytest.raises(
        InputError, match=r"lite0.pth: key _bn0.bias \(8,\) does not fit timm's .* key bn1.bias \(32,\)"
    ):
        efficientnet_pytorch_to_timm(swapped, "tf_efficientnet_lite0", "lite0.pth")


def test_each_encoder_normalises_as_its_pretrained_weights_expect():
    lite, regnet, resnet = (input_normalisation(n) for n in ("tu-tf_efficientnet_lite2", "tu-regnetx_002", "resnet50"))
    assert lite == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert regnet == resnet == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    image = torch.tensor([0.0, 0.5, 1.0]).view(1, 3, 1, 1)
    torch.testing.assert_close(
        InputNormalisation("tu-tf_efficientnet_lite0")(image).flatten(), torch.tensor([-1.0, 0, 1])
    )
    # the segmenter's network sees the normalised image: mid-grey is 0 for a Lite
    seen = {}
    segmenter = _segmenter(encoder="tu-tf_efficientnet_lite0").eval()
    segmenter.net.encoder.register_forward_pre_hook(lambda module, args: seen.setdefault("x", args[0]))
    segmenter(torch.full((1, 3, 64, 64), 0.5))
    assert seen["x"].abs().max() == 0


def test_the_encoder_can_learn_at_a_lower_rate_than_the_heads():
    from functools import partial

    segmenter = _segmenter(encoder_lr_factor=0.1)
    segmenter.optimizer_factory, segmenter.scheduler_factory = partial(torch.optim.AdamW, lr=0.003), None
    groups = segmenter.configure_optimizers().param_groups
    assert [g["lr"] for g in groups] == pytest.approx([0.0003, 0.003])
    encoder = {id(p) for p in segmenter.net.encoder.parameters()}
    assert {id(p) for p in groups[0]["params"]} == encoder
    assert len(groups[0]["params"]) + len(groups[1]["params"]) == len(list(segmenter.parameters()))
    assert not encoder & {id(p) for p in groups[1]["params"]}
    classifier = _classifier(encoder_lr_factor=1.0)
    classifier.optimizer_factory, classifier.scheduler_factory = partial(torch.optim.AdamW, lr=0.002), None
    assert [g["lr"] for g in classifier.configure_optimizers().param_groups] == [0.002]  # one group at a factor of 1
