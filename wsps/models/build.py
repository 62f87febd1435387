"""Either stage's LightningModule as the configs compose it (`build_model`), or as a checkpoint
holds it (`NetworkModule.load_from_checkpoint`): the defaults of every option live in conf/model/ alone."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from wsps import CONFIG_DIR
from wsps.models.nets import build_net
from wsps.models.optim import configure


def compose_model(stage: str, overrides: Sequence[str] = ()) -> DictConfig:
    """The model node of `python train.py stage=<stage> *overrides` (within a running Hydra app,
    on that app's search path)."""
    overrides = [f"stage={stage}", *overrides]
    if GlobalHydra.instance().is_initialized():
        return compose(config_name="train", overrides=overrides).model
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(config_name="train", overrides=overrides).model


def build_model(stage: str, overrides: Sequence[str] = (), **values):
    """The model that `python train.py stage=<stage> *overrides` would train (the defaults of
    conf/model/<stage>.yaml and its network's conf/model/net/ node), with `values` in place of
    the model node's own (not the network's: override `model.net.<key>=...` for those)."""
    return build_net(compose_model(stage, overrides), _convert_="all", **values)


class NetworkModule:
    """Mixin of both LightningModules, which hold their network as `self.net` and name their
    conf/model/ file as `stage`.

    `configure_optimizers`: the optimiser and scheduler of the config, the network's `encoder`
    (if it has one) at `encoder_lr_factor` times the rate.

    `load_from_checkpoint` leaves the network's pretrained weights unread (`encoder_weights:
    null`: the checkpoint holds the trained weights, so nothing is read or downloaded), gives an
    option that the checkpoint predates its default from conf/model/, and gives a checkpoint
    written before `model.net` existed its network's node (`legacy_net`: the network's class and
    the options it was built from).
    """

    stage: str
    legacy_net: tuple[str, tuple[str, ...]]

    def configure_optimizers(self):
        return configure(
            self,
            self.optimizer_factory,
            self.scheduler_factory,
            getattr(self.net, "encoder", None),
            self.hparams.encoder_lr_factor,
        )

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """A checkpoint written before `model.net` may hold the network's encoder under `encoder.`."""
        state = checkpoint["state_dict"]
        if any(k.startswith("encoder.") for k in state):
            checkpoint["state_dict"] = {(f"net.{k}" if k.startswith("encoder.") else k): v for k, v in state.items()}

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path, map_location=None, **kwargs):
        hparams = torch.load(checkpoint_path, map_location="cpu", weights_only=False, mmap=True)["hyper_parameters"]
        if "net" not in kwargs:
            target, keys = cls.legacy_net
            net = dict(hparams["net"]) if "net" in hparams else {"_target_": target, **{k: hparams[k] for k in keys}}
            kwargs["net"] = {**net, "encoder_weights": None} if "encoder_weights" in net else net
        defaults = OmegaConf.to_container(compose_model(cls.stage), resolve=True)
        for key, value in defaults.items():
            if not key.startswith("_") and key not in hparams and key not in kwargs:
                kwargs[key] = value
        return super().load_from_checkpoint(checkpoint_path, map_location=map_location, **kwargs)
