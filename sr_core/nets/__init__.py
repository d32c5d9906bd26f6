"""Network classes, looked up by name in a literal dict (no registry, no auto-import).

``ARCHS`` maps an architecture name to its class; ``NET_PRESETS`` maps the
project's model names (the ones the CLI, the app and ``load_model`` accept)
to an architecture and the constructor arguments it is built with (``PRESETS``
is its older name, kept for the public API). Not to be confused with the
degradation presets of :mod:`sr_core.degradations` or the app's Compare presets.
"""

from __future__ import annotations

from torch import nn

from ..presets import CLASSICAL, NET_PRESETS, PRESETS
from ..resize import Interpolation
from .discriminator import SRGANDiscriminator, UNetDiscriminatorSN
from .fast import FastSR
from .srcnn import SRCNN
from .srresnet import SRResNet

ARCHS: dict[str, type[nn.Module]] = {
    "srresnet": SRResNet,
    "srcnn": SRCNN,
    "fastsr": FastSR,
    "srgan_discriminator": SRGANDiscriminator,
    "unet_discriminator_sn": UNetDiscriminatorSN,
    "interpolation": Interpolation,
}

# PRESETS (model name -> architecture and constructor arguments) and CLASSICAL live in sr_core.presets,
# which needs no torch (the light install lists and loads models by name)


def build_model(arch: str, **hparams) -> nn.Module:
    """Build an architecture by name with the given constructor arguments."""
    if arch not in ARCHS:
        raise ValueError(f"unknown architecture {arch!r}; known: {', '.join(ARCHS)}")
    return ARCHS[arch](**hparams)


def build_preset(name: str, **overrides) -> nn.Module:
    """Build a model name's preset (randomly initialised), with optional argument overrides."""
    if name not in NET_PRESETS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(NET_PRESETS)}")
    arch, hparams = NET_PRESETS[name]
    return build_model(arch, **{**hparams, **overrides})


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ARCHS", "NET_PRESETS", "PRESETS", "CLASSICAL", "build_model", "build_preset", "count_parameters",
           "SRResNet", "SRCNN", "FastSR", "SRGANDiscriminator", "UNetDiscriminatorSN", "Interpolation"]
