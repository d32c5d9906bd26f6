"""Network classes, looked up by name in a literal dict (no registry, no auto-import).

``ARCHS`` maps an architecture name to its class; ``PRESETS`` maps the
project's model names (the ones the CLI, the app and ``load_model`` accept)
to an architecture and the constructor arguments it is built with.
"""

from __future__ import annotations

from torch import nn

from ..presets import CLASSICAL, PRESETS
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
    if name not in PRESETS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(PRESETS)}")
    arch, hparams = PRESETS[name]
    return build_model(arch, **{**hparams, **overrides})


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


__all__ = ["ARCHS", "PRESETS", "CLASSICAL", "build_model", "build_preset", "count_parameters",
           "SRResNet", "SRCNN", "FastSR", "SRGANDiscriminator", "UNetDiscriminatorSN", "Interpolation"]
