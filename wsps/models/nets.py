"""The networks of both stages, each a config node (`model.net`) that Hydra instantiates.

A network takes images as floats in [0, 1] and normalises them itself, as its pretrained weights
expect; the LightningModules around it own the losses, the metrics and the method.

- A **segmenter network** is built with `classes` (the semantic classes plus 3: the centre
  heatmap and the two offsets) and maps images (N, 3, H, W) to (N, classes, H, W), at the
  images' resolution, whatever its strides (it pads and crops back).
- A **classifier network** maps crops (N, 3, h, w) to features (N, out_channels, h', w'), and
  says its `out_channels`; the classifier's 1x1 head on them gives the logits and the CAMs.

Either may have an `encoder`: the parameters that `model.encoder_lr_factor` applies to.
Another network is one module and one YAML in `conf/model/net/` (`model/net=<name>`); see
docs/layout.md.
"""

from __future__ import annotations

from collections.abc import Mapping

import segmentation_models_pytorch as smp
import torch
import torch.nn.functional as F
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from torch import nn

from wsps.io import ConfigError, InputError
from wsps.models.weights import InputNormalisation, load_encoder_weights

#: Of weights and inputs: channels-last convolutions are faster (benchmarks/bench_channels_last.py).
MEMORY_FORMAT = torch.channels_last


def build_net(node: Mapping, **kwargs) -> nn.Module:
    """What the config node `node` names (`_target_`: a network, given the sizes the module knows
    such as `classes`; or a whole module, from `build_model`); a bad weights file or option
    raises its own `InputError` or `ConfigError`, not Hydra's wrapper of it."""
    try:
        return instantiate(node, **kwargs)
    except InstantiationException as err:
        if isinstance(err.__cause__, (ConfigError, InputError)):
            raise err.__cause__ from None
        raise


def head_in_float32(net: nn.Module, image: torch.Tensor) -> torch.Tensor:
    """An smp network's output with its last layer (`segmentation_head`: the final convolution
    and upsampling) in float32 when autocast is on. In bfloat16 the centre heatmap's peaks
    flatten into ties that split instances, and PQ_th falls (benchmarks/bench_instances.py)."""
    features = net.encoder(image)
    decoded = net.decoder(features)
    if not torch.is_autocast_enabled(image.device.type):
        return net.segmentation_head(decoded)
    with torch.autocast(image.device.type, enabled=False):
        return net.segmentation_head(decoded.float())


class SmpSegmentationNet(nn.Module):
    """A segmentation-models-pytorch network (`arch` on `encoder_name`, pretrained as
    `encoder_weights` says: see `wsps.models.weights`) with `classes` output channels.

    Args:
        classes: output channels.
        arch: an smp architecture (`DeepLabV3Plus`, `FPN`, ...).
        encoder_name: an smp encoder (`tu-<timm name>` for timm's).
        encoder_weights: null (random), `imagenet`, or a local weights file.

    Shape: images (N, 3, H, W) in [0, 1] -> (N, classes, H, W); the network sees them normalised
    and padded to a multiple of 32, its last layer in float32 under autocast (`head_in_float32`).
    """

    memory_format = MEMORY_FORMAT

    def __init__(self, classes: int, arch: str, encoder_name: str, encoder_weights: str | None):
        super().__init__()
        model = smp.create_model(arch, encoder_name=encoder_name, encoder_weights=None, classes=classes)
        load_encoder_weights(model.encoder, encoder_weights, encoder_name)
        self.encoder, self.decoder, self.segmentation_head = model.encoder, model.decoder, model.segmentation_head
        self.normalise = InputNormalisation(encoder_name)
        self.to(memory_format=self.memory_format)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        rows, cols = image.shape[-2:]
        image = F.pad(self.normalise(image), (0, -cols % 32, 0, -rows % 32))
        return head_in_float32(self, image.contiguous(memory_format=self.memory_format))[..., :rows, :cols]


class SmpEncoderNet(nn.Module):
    """A segmentation-models-pytorch encoder's last features.

    Args:
        encoder_name: an smp encoder (`tu-<timm name>` for timm's).
        encoder_weights: null (random), `imagenet`, or a local weights file.
        output_stride: 8 or 16 (dilated last stages) or 32.

    Shape: crops (N, 3, h, w) in [0, 1] -> (N, out_channels, h / output_stride, w / output_stride).
    """

    memory_format = MEMORY_FORMAT

    def __init__(self, encoder_name: str, encoder_weights: str | None, output_stride: int):
        super().__init__()
        self.encoder = smp.encoders.get_encoder(
            encoder_name, in_channels=3, depth=5, weights=None, output_stride=output_stride
        )
        load_encoder_weights(self.encoder, encoder_weights, encoder_name)
        self.normalise = InputNormalisation(encoder_name)
        self.out_channels = self.encoder.out_channels[-1]
        self.to(memory_format=self.memory_format)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.encoder(self.normalise(crops).contiguous(memory_format=self.memory_format))[-1]
