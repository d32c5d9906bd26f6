"""The second-order degradation model of Real-ESRGAN, for training on real photos.

Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data" (ICCVW 2021), Sec. 3 and Fig. 2. An HR image becomes its LR
image through two rounds ("orders") of

1. blur: a random kernel of odd size 7..21, one of isotropic / anisotropic
   Gaussian, generalised Gaussian (exponent beta) and plateau kernels, or with
   probability ``sinc_prob`` a 2-D sinc (ideal circular low-pass) kernel that
   makes ringing and overshoot;
2. a random resize, up, down or kept, with area, bilinear or bicubic
   interpolation (the first order resizes relative to the current size, the
   second relative to the final LR size, as BasicSR does);
3. noise: Gaussian (colour, or with probability ``gray_noise_prob`` the same
   noise in every channel) or Poisson (colour or grey);
4. JPEG at a quality drawn from ``jpeg_range``;

then a final 2-D sinc filter (probability ``final_sinc_prob``, otherwise none)
together with the resize to LR size (random interpolation), and the last JPEG,
these two groups in random order (each first with probability 1/2). The LR
image is rounded to the 8-bit grid, as Real-ESRGAN's ``feed_data`` does.

Sampling follows BasicSR's implementation
(``basicsr/data/degradations.py``: ``random_mixed_kernels``,
``random_bivariate_*``, ``circular_lowpass_kernel``, the noise and JPEG
functions; ``realesrgan/data/realesrgan_dataset.py`` for the kernels and
``realesrgan/models/realesrgan_model.py::feed_data`` for the order of the
steps). Differences, all deliberate:

* everything runs on one image with OpenCV/numpy in the data loader, not as
  a GPU batch: ``cv2.filter2D`` (reflect-101 borders, as BasicSR's
  ``filter2D`` reflect padding), ``cv2.resize`` (``INTER_AREA``,
  ``INTER_LINEAR``, ``INTER_CUBIC``; torch's ``area`` mode upscales by
  repetition where OpenCV's interpolates) and ``cv2.imencode`` JPEG (as
  BasicSR's numpy ``add_jpg_compression``; Real-ESRGAN training uses its
  differentiable DiffJPEG with a float quality);
* the JPEG quality is an integer drawn uniformly from ``jpeg_range``
  inclusive;
* no unsharp masking of the HR target and no crop after the degradation
  (those belong to the training script: here the HR crop comes first).

``DegradationConfig`` holds every parameter: the kernel sizes and kinds (shared),
one ``Order`` per round (``first``, ``second``: Real-ESRGAN's ``*`` and ``*2``
options under the same names) and the final stage. Its defaults are Real-ESRGAN's
``options/train_realesrgan_x4plus.yml`` (the ``realesrgan_x4plus`` model):
kernel sizes 7..21, kernel list iso/aniso/generalized_iso/generalized_aniso/
plateau_iso/plateau_aniso with probabilities 0.45/0.25/0.12/0.03/0.12/0.03;
first order sinc_prob 0.1, blur_sigma [0.2, 3], betag_range [0.5, 4],
betap_range [1, 2], resize_prob [0.2, 0.7, 0.1] (up/down/keep), resize_range
[0.15, 1.5], gaussian_noise_prob 0.5, noise_range [1, 30], poisson_scale_range
[0.05, 3], gray_noise_prob 0.4, jpeg_range [30, 95]; second order blur_prob 0.8
(Real-ESRGAN's second_blur_prob), sinc_prob 0.1, blur_sigma [0.2, 1.5],
betag_range [0.5, 4], betap_range [1, 2], resize_prob [0.3, 0.4, 0.3],
resize_range [0.3, 1.2], gaussian_noise_prob 0.5, noise_range [1, 25],
poisson_scale_range [0.05, 2.5], gray_noise_prob 0.4, jpeg_range [30, 95] (the
last JPEG); final_sinc_prob 0.8.
The rotation of anisotropic kernels is uniform in [-pi, pi], the sinc
cut-off uniform in [pi/3, pi] (in [pi/5, pi] for kernels of 13 px or more;
always [pi/3, pi] for the final sinc), as in ``realesrgan_dataset.py``.
The first order's ``blur_prob``, both orders' ``noise_prob`` and ``jpeg_prob``
and the second order's ``resize_apply_prob`` are not in Real-ESRGAN (which
always applies those steps: probability 1, the default); they exist so that
presets and the special cases below can switch steps off. Note that Real-ESRGAN's second
resize always runs, even when it draws "keep": it resizes to the LR size
times the factor, so "keep" means "to the LR size" there.

Presets (``DEGRADATION_PRESETS``):

* ``real``: the defaults above;
* ``real-mild``, for web images (downscaled, compressed, seldom noisy): blur
  sigma [0.2, 1.5] then [0.2, 1.0], sinc probabilities 0.05 / final 0.5,
  second blur 0.5, resizes within [0.5, 1.2] then [0.6, 1.2], noise in half
  of the samples per order with Gaussian sigma [1, 10] then [1, 5] and Poisson
  scale [0.05, 1] then [0.05, 0.5], JPEG quality [60, 95] then [70, 95].

``order="bsrgan"`` uses BSRGAN's shuffled order instead (Zhang et al.,
"Designing a Practical Degradation Model for Deep Blind Image
Super-Resolution", ICCV 2021, ``degradation_bsrgan``): the steps blur
(first-order parameters), blur (second-order), the first-order random resize,
the resize to LR size, noise (first-order), noise (second-order), JPEG
(first-order) and the final sinc filter are applied in a random permutation,
except that the random resize is kept before the resize to LR size (BSRGAN
swaps its two downsamplings the same way), and the last JPEG always comes
last. BSRGAN's own parameter ranges (its 0.25 chance of a first 2x bicubic
downscale, its kernel widths tied to the scale) are not reproduced: the
steps use this config's ranges.

The degradations of ``sr_core.data.degrade`` are special cases
(``seed_config``):

* ``bicubic`` (Pillow's antialiased bicubic): every step off (in both orders
  blur_prob, noise_prob and jpeg_prob 0, the first resize "keep" 1, the second
  resize_apply_prob 0; final_sinc_prob 0) and the final resize
  mode ``pil_bicubic`` (Pillow's resize of the image rounded to 8 bits). It
  reproduces ``degrade(hr, scale, "bicubic")`` exactly. OpenCV's ``bicubic``
  is *not* the same downscale: it does not antialias and uses a = -0.75.
* ``blur`` (Gaussian blur, then every ``scale``-th pixel from offset
  ``scale // 2``): the same, with the first order's blur_prob 1, kernel list
  ``iso`` only, blur_sigma [s, s], kernel size 21 and the final resize mode ``subsample``.
  It matches up to the kernel: ``degrade`` uses Pillow's ``GaussianBlur``,
  which approximates the Gaussian by three box blurs, while here it is the
  exact sampled Gaussian truncated at 21 px (at sigma 1.6 on a BSD100 photo:
  0.28 of an 8-bit level mean absolute difference, 12 levels at most, on
  edges; ``tests/test_degradations.py`` bounds it).

Determinism: ``degrade_real(..., seed, index)`` draws everything from
``np.random.default_rng((seed, index))``, like ``SRTrainSet``; the returned
record lists every applied step with its sampled parameters.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np
import torch
from PIL import Image

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = ("area", "bilinear", "bicubic")
# extra final-resize modes, only for the special cases: Pillow's antialiased bicubic and plain subsampling
SPECIAL_RESIZE_MODES = ("pil_bicubic", "subsample")
_CV2_MODES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
ORDERS = ("realesrgan", "bsrgan")


@dataclass(frozen=True)
class Order:
    """One round ("order") of blur, random resize, noise and JPEG; defaults are Real-ESRGAN's first order.

    Ranges are ``(low, high)``. ``resize_prob`` gives the probabilities of the three resize directions
    ``(up, down, keep)``; ``resize_apply_prob`` whether the random resize runs at all (None: always, without a
    draw, as Real-ESRGAN's first order). In the second order, ``jpeg_*`` are the last JPEG's.
    """

    blur_prob: float = 1.0
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    resize_apply_prob: float | None = None
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)
    resize_range: tuple[float, float] = (0.15, 1.5)
    noise_prob: float = 1.0
    gaussian_noise_prob: float = 0.5
    noise_range: tuple[float, float] = (1.0, 30.0)
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_prob: float = 1.0
    jpeg_range: tuple[int, int] = (30, 95)


FIRST = Order()
SECOND = Order(blur_prob=0.8, blur_sigma=(0.2, 1.5), resize_apply_prob=1.0, resize_prob=(0.3, 0.4, 0.3),
               resize_range=(0.3, 1.2), noise_range=(1.0, 25.0), poisson_scale_range=(0.05, 2.5))


@dataclass(frozen=True)
class DegradationConfig:
    """Every parameter of the pipeline; defaults are Real-ESRGAN's ``train_realesrgan_x4plus.yml``.

    The kernel sizes and kinds are shared by both orders; ``first`` and ``second`` hold each order's own
    parameters (``Order``). See the module docstring for the meaning of each step and for the parameters that
    Real-ESRGAN does not have.
    """

    kernel_range: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    kernel_list: tuple[str, ...] = KERNEL_TYPES
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    first: Order = FIRST
    second: Order = SECOND
    final_sinc_prob: float = 0.8
    final_resize_modes: tuple[str, ...] = RESIZE_MODES
    order: str = "realesrgan"

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        for k in self.kernel_range:
            if k % 2 == 0 or k < 1:
                raise ValueError(f"kernel sizes must be odd and positive, got {k}")
        if set(self.kernel_list) - set(KERNEL_TYPES) or len(self.kernel_list) != len(self.kernel_prob):
            raise ValueError(f"kernel_list must name kernels of {KERNEL_TYPES}, one probability each")
        allowed = RESIZE_MODES + SPECIAL_RESIZE_MODES
        if not self.final_resize_modes or set(self.final_resize_modes) - set(allowed):
            raise ValueError(f"resize modes must be among {allowed}, got {self.final_resize_modes}")
        for name in ("first", "second"):
            lo, hi = getattr(self, name).jpeg_range
            if not 1 <= lo <= hi <= 100:
                raise ValueError(f"{name}.jpeg_range must lie within [1, 100], got {(lo, hi)}")

    def replace(self, **changes) -> "DegradationConfig":
        """A copy with ``changes``; ``first`` / ``second`` may be dicts of changes to that order."""
        for name in ("first", "second"):
            if isinstance(changes.get(name), dict):
                changes[name] = dataclasses.replace(getattr(self, name), **changes[name])
        return dataclasses.replace(self, **changes)


MILD = DegradationConfig(
    first=Order(blur_sigma=(0.2, 1.5), sinc_prob=0.05, resize_range=(0.5, 1.2), noise_prob=0.5,
                noise_range=(1.0, 10.0), poisson_scale_range=(0.05, 1.0), jpeg_range=(60, 95)),
    second=dataclasses.replace(SECOND, blur_prob=0.5, sinc_prob=0.05, blur_sigma=(0.2, 1.0), resize_range=(0.6, 1.2),
                               noise_prob=0.5, noise_range=(1.0, 5.0), poisson_scale_range=(0.05, 0.5),
                               jpeg_range=(70, 95)),
    final_sinc_prob=0.5)

DEGRADATION_PRESETS: dict[str, DegradationConfig] = {"real": DegradationConfig(), "real-mild": MILD}


def get_config(config: str | DegradationConfig | None = None) -> DegradationConfig:
    """A preset name (``real``, ``real-mild``, or ``mild``), a config (returned as is) or None (``real``)."""
    if config is None:
        return DEGRADATION_PRESETS["real"]
    if isinstance(config, DegradationConfig):
        return config
    name = {"mild": "real-mild", "default": "real"}.get(config, config)
    if name not in DEGRADATION_PRESETS:
        raise ValueError(f"unknown degradation preset {config!r}; known: {', '.join(DEGRADATION_PRESETS)}")
    return DEGRADATION_PRESETS[name]


def seed_config(kind: str, blur_sigma: float = 1.6) -> DegradationConfig:
    """The config under which the pipeline is ``sr_core.data.degrade``'s ``bicubic`` or ``blur`` (module docstring)."""
    first = Order(blur_prob=0.0, resize_prob=(0.0, 0.0, 1.0), noise_prob=0.0, jpeg_prob=0.0)
    second = dataclasses.replace(SECOND, blur_prob=0.0, resize_apply_prob=0.0, noise_prob=0.0, jpeg_prob=0.0)
    if kind == "bicubic":
        return DegradationConfig(first=first, second=second, final_sinc_prob=0.0, final_resize_modes=("pil_bicubic",))
    if kind == "blur":
        first = dataclasses.replace(first, blur_prob=1.0, sinc_prob=0.0, blur_sigma=(blur_sigma, blur_sigma))
        return DegradationConfig(kernel_list=("iso",), kernel_prob=(1.0,), kernel_range=(21,), first=first,
                                 second=second, final_sinc_prob=0.0, final_resize_modes=("subsample",))
    raise ValueError(f"kind must be 'bicubic' or 'blur', got {kind!r}")


# ----------------------------------------------------------------------------------------------- kernels

def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    ax = np.arange(-(size // 2), size // 2 + 1, dtype=np.float64)  # BasicSR's mesh_grid
    return np.meshgrid(ax, ax)


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """Bessel function of the first kind, order 1 (Bessel's integral, trapezoid rule; ~1e-15 for |x| < 60).

    ``J1(x) = (1 / 2 pi) integral_{-pi}^{pi} cos(t - x sin t) dt``; the
    integrand is periodic and analytic, so equispaced points converge
    exponentially once their number exceeds |x| (numpy only: scipy is not a
    runtime dependency).
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.linspace(-np.pi, np.pi, 160, endpoint=False)
    return np.cos(t - x[..., None] * np.sin(t)).mean(axis=-1)


def sinc_kernel(size: int, omega_c: float) -> np.ndarray:
    """2-D circular low-pass (sinc) kernel with cut-off ``omega_c`` (rad/pixel), normalised (BasicSR's
    ``circular_lowpass_kernel``)."""
    c = (size - 1) / 2
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    r = np.hypot(xx - c, yy - c)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = omega_c * bessel_j1(omega_c * r) / (2 * np.pi * r)
    k[size // 2, size // 2] = omega_c ** 2 / (4 * np.pi)
    return k / k.sum()


def blur_kernel(kind: str, size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0,
                beta: float = 1.0) -> np.ndarray:
    """One of ``KERNEL_TYPES`` on a ``size`` x ``size`` grid, normalised to sum 1 (float64).

    ``iso``/``aniso``: Gaussian ``exp(-q/2)``; ``generalized_*``:
    ``exp(-(q ** beta) / 2)``; ``plateau_*``: ``1 / (q ** beta + 1)``, where
    ``q = x^T Sigma^-1 x`` and ``Sigma = R(theta) diag(sigma_x^2, sigma_y^2) R(theta)^T``
    (BasicSR's ``bivariate_*``). The isotropic kinds ignore ``sigma_y`` and ``theta``.
    """
    if kind not in KERNEL_TYPES:
        raise ValueError(f"kernel must be one of {KERNEL_TYPES}, got {kind!r}")
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma_y, theta = sigma_x, 0.0
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    inv = np.linalg.inv(rot @ np.diag([sigma_x ** 2, sigma_y ** 2]) @ rot.T)
    xx, yy = _grid(size)
    q = inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy
    if kind in ("iso", "aniso"):
        k = np.exp(-0.5 * q)
    elif kind.startswith("generalized"):
        k = np.exp(-0.5 * np.power(q, beta))
    else:
        k = 1.0 / (np.power(q, beta) + 1.0)
    return k / k.sum()


def sample_kernel(rng: np.random.Generator, cfg: DegradationConfig, second: bool = False
                  ) -> tuple[np.ndarray, dict]:
    """Draw one order's blur kernel as ``realesrgan_dataset.py`` does; returns (kernel, parameters)."""
    o = cfg.second if second else cfg.first
    size = int(rng.choice(cfg.kernel_range))
    if rng.random() < o.sinc_prob:
        omega = rng.uniform(np.pi / 3, np.pi) if size < 13 else rng.uniform(np.pi / 5, np.pi)
        return sinc_kernel(size, omega), {"kernel": "sinc", "size": size, "omega_c": float(omega)}
    sig, betag, betap = o.blur_sigma, o.betag_range, o.betap_range
    p = np.asarray(cfg.kernel_prob, dtype=np.float64)
    kind = cfg.kernel_list[int(rng.choice(len(p), p=p / p.sum()))]
    sigma_x = float(rng.uniform(*sig))
    sigma_y, theta = sigma_x, 0.0
    if kind.endswith("aniso"):
        sigma_y, theta = float(rng.uniform(*sig)), float(rng.uniform(-np.pi, np.pi))
    beta = 1.0
    if kind.startswith(("generalized", "plateau")):
        lo, hi = betag if kind.startswith("generalized") else betap
        beta = float(rng.uniform(lo, 1.0) if rng.random() < 0.5 else rng.uniform(1.0, hi))  # BasicSR's split
    params = {"kernel": kind, "size": size, "sigma_x": sigma_x, "sigma_y": sigma_y, "theta": theta, "beta": beta}
    return blur_kernel(kind, size, sigma_x, sigma_y, theta, beta), params


# ----------------------------------------------------------------------------------------------- steps
# Images inside the pipeline are float32 HWC RGB arrays in [0, 1] (values may leave [0, 1] only between a
# filter and the next clip, as in BasicSR).

def _filter(img: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    return cv2.filter2D(img, -1, kernel.astype(np.float32), borderType=cv2.BORDER_REFLECT_101)


def _resize(img: np.ndarray, size: tuple[int, int], mode: str) -> np.ndarray:
    """Resize to ``size`` = (h, w)."""
    h, w = size
    if (h, w) == img.shape[:2] and mode not in SPECIAL_RESIZE_MODES:
        return img
    if mode == "pil_bicubic":  # Pillow's uint8 path (it rounds and clips between its two 1-D passes)
        u8 = np.round(np.clip(img, 0, 1) * 255.0).astype(np.uint8)
        return np.asarray(Image.fromarray(u8).resize((w, h), Image.BICUBIC), dtype=np.float32) / 255.0
    if mode == "subsample":
        fy, fx = img.shape[0] // h, img.shape[1] // w
        if fy * h != img.shape[0] or fx * w != img.shape[1]:
            raise ValueError(f"subsample needs an integer factor, got {img.shape[:2]} -> {size}")
        return np.ascontiguousarray(img[fy // 2::fy, fx // 2::fx][:h, :w])
    out = cv2.resize(img, (w, h), interpolation=_CV2_MODES[mode])
    return out if out.ndim == 3 else out[..., None]


def add_gaussian_noise(img: np.ndarray, rng: np.random.Generator, sigma: float, gray: bool) -> np.ndarray:
    """Add N(0, sigma / 255) noise (the same in every channel when ``gray``), clip to [0, 1]."""
    shape = img.shape[:2] + ((1,) if gray else (img.shape[2],))
    noise = rng.standard_normal(shape, dtype=np.float32) * np.float32(sigma / 255.0)
    return np.clip(img + noise, 0.0, 1.0)


def add_poisson_noise(img: np.ndarray, rng: np.random.Generator, scale: float, gray: bool) -> np.ndarray:
    """Poisson (shot) noise as BasicSR's ``generate_poisson_noise``, times ``scale``, clip to [0, 1].

    The image is put on the 8-bit grid, the number of distinct values ``v``
    is rounded up to a power of two, and the noise is ``Poisson(x v) / v - x``
    (on the BT.601 grey image when ``gray``).
    """
    src = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)[..., None] if gray else img
    levels = np.round(np.clip(src, 0, 1) * 255.0).astype(np.uint8)
    distinct = int(np.count_nonzero(np.bincount(levels.ravel(), minlength=256)))  # len(np.unique), in O(n)
    vals = 2 ** math.ceil(math.log2(max(distinct, 2)))
    src = levels.astype(np.float32) / np.float32(255.0)
    noise = (rng.poisson(src * vals).astype(np.float32) / np.float32(vals) - src)
    return np.clip(img + noise * np.float32(scale), 0.0, 1.0)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """JPEG round trip at ``quality`` with OpenCV (4:2:0 chroma, as its default), on the 8-bit grid."""
    u8 = np.round(np.clip(img, 0, 1) * 255.0).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR), [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


# ----------------------------------------------------------------------------------------------- pipeline

class RealDegradation:
    """The pipeline for one config: ``lr, record = RealDegradation(cfg)(hr, scale, rng)``.

    ``hr``: HWC RGB, uint8 or float in [0, 1], sides multiples of ``scale``.
    Returns the LR image as float32 HWC in [0, 1] on the 8-bit grid, of size
    HR / scale, and the record: one dict per applied step, in order, with the
    sampled parameters (``op`` is ``blur``, ``resize``, ``noise`` or ``jpeg``;
    ``stage`` is 1, 2 or ``final``).
    """

    def __init__(self, config: str | DegradationConfig | None = None):
        self.config = get_config(config)

    def __call__(self, hr: np.ndarray, scale: int, rng: np.random.Generator) -> tuple[np.ndarray, list[dict]]:
        if hr.ndim != 3 or hr.shape[2] != 3:
            raise ValueError(f"expected an HWC RGB image, got shape {hr.shape}")
        h, w = hr.shape[:2]
        if h % scale or w % scale:
            raise ValueError(f"HR size {w}x{h} is not a multiple of the scale {scale}")
        img = hr.astype(np.float32) / 255.0 if hr.dtype == np.uint8 else np.asarray(hr, dtype=np.float32)
        self.lr_size = (h // scale, w // scale)
        record: list[dict] = []
        steps = self._realesrgan_steps() if self.config.order == "realesrgan" else self._bsrgan_steps(rng)
        for step in steps:
            img = step(img, rng, record)
        img = np.clip(img, 0.0, 1.0)
        if img.shape[:2] != self.lr_size:  # cannot happen with the two orders; a guard for edited step lists
            raise AssertionError(f"pipeline produced {img.shape[:2]}, expected {self.lr_size}")
        return np.round(img * 255.0).astype(np.float32) / 255.0, record

    # --- the two orders, as lists of steps (each draws its own parameters when it runs)
    def _realesrgan_steps(self):
        return [partial(self._blur, stage=1), partial(self._random_resize, stage=1), partial(self._noise, stage=1),
                partial(self._jpeg, stage=1), partial(self._blur, stage=2), partial(self._random_resize, stage=2),
                partial(self._noise, stage=2), self._final]

    def _bsrgan_steps(self, rng: np.random.Generator):
        names = ["blur1", "blur2", "resize1", "resize_lr", "noise1", "noise2", "jpeg1", "sinc"]
        perm = [names[i] for i in rng.permutation(len(names))]
        i, j = perm.index("resize1"), perm.index("resize_lr")
        if i > j:  # the random resize stays before the resize to LR size (BSRGAN's idx1/idx2 swap)
            perm[i], perm[j] = perm[j], perm[i]
        table = {"blur1": partial(self._blur, stage=1), "blur2": partial(self._blur, stage=2),
                 "resize1": partial(self._random_resize, stage=1), "resize_lr": self._resize_lr,
                 "noise1": partial(self._noise, stage=1), "noise2": partial(self._noise, stage=2),
                 "jpeg1": partial(self._jpeg, stage=1), "sinc": self._sinc}
        return [table[n] for n in perm] + [partial(self._jpeg, stage="final")]

    # --- steps; ``stage`` 1 or 2 picks the order's parameters (the last JPEG, "final", the second order's)
    def _order(self, stage) -> Order:
        return self.config.first if stage == 1 else self.config.second

    def _blur(self, img, rng, record, stage: int):
        if rng.random() >= self._order(stage).blur_prob:
            return img
        kernel, params = sample_kernel(rng, self.config, stage == 2)
        record.append({"op": "blur", "stage": stage, **params})
        return _filter(img, kernel)

    def _random_resize(self, img, rng, record, stage: int):
        o = self._order(stage)
        if o.resize_apply_prob is not None and rng.random() >= o.resize_apply_prob:
            return img
        p = np.asarray(o.resize_prob, dtype=np.float64)
        lo, hi = o.resize_range
        direction = ("up", "down", "keep")[int(rng.choice(3, p=p / p.sum()))]
        factor = float(rng.uniform(1.0, hi) if direction == "up" else rng.uniform(lo, 1.0) if direction == "down"
                       else 1.0)
        mode = RESIZE_MODES[int(rng.integers(len(RESIZE_MODES)))]
        base = self.lr_size if stage == 2 else img.shape[:2]  # BasicSR: the second resize is relative to the LR size
        size = (max(1, int(base[0] * factor)), max(1, int(base[1] * factor)))
        if size == img.shape[:2]:
            return img
        record.append({"op": "resize", "stage": stage, "direction": direction, "factor": factor,
                       "mode": mode, "size": list(size)})
        return np.clip(_resize(img, size, mode), 0.0, 1.0)

    def _noise(self, img, rng, record, stage: int):
        o = self._order(stage)
        if rng.random() >= o.noise_prob:
            return img
        if rng.random() < o.gaussian_noise_prob:
            sigma = float(rng.uniform(*o.noise_range))
            gray = bool(rng.random() < o.gray_noise_prob)
            record.append({"op": "noise", "stage": stage, "type": "gaussian", "sigma": sigma, "gray": gray})
            return add_gaussian_noise(img, rng, sigma, gray)
        scale = float(rng.uniform(*o.poisson_scale_range))
        gray = bool(rng.random() < o.gray_noise_prob)
        record.append({"op": "noise", "stage": stage, "type": "poisson", "scale": scale, "gray": gray})
        return add_poisson_noise(img, rng, scale, gray)

    def _jpeg(self, img, rng, record, stage):
        o = self._order(stage)
        if rng.random() >= o.jpeg_prob:
            return img
        q = int(rng.integers(o.jpeg_range[0], o.jpeg_range[1] + 1))
        record.append({"op": "jpeg", "stage": stage, "quality": q})
        return jpeg(img, q)

    def _resize_lr(self, img, rng, record):
        modes = self.config.final_resize_modes
        mode = modes[int(rng.integers(len(modes)))]
        record.append({"op": "resize", "stage": "final", "mode": mode, "size": list(self.lr_size)})
        return _resize(img, self.lr_size, mode)

    def _sinc(self, img, rng, record):
        cfg = self.config
        if rng.random() >= cfg.final_sinc_prob:
            return img
        size = int(rng.choice(cfg.kernel_range))
        omega = float(rng.uniform(np.pi / 3, np.pi))
        record.append({"op": "blur", "stage": "final", "kernel": "sinc", "size": size, "omega_c": omega})
        return _filter(img, sinc_kernel(size, omega))

    def _final(self, img, rng, record):
        """[resize to LR + sinc] and the last JPEG, in random order (each first with probability 1/2)."""
        if rng.random() < 0.5:
            img = self._sinc(self._resize_lr(img, rng, record), rng, record)
            return self._jpeg(np.clip(img, 0.0, 1.0), rng, record, "final")
        img = self._jpeg(img, rng, record, "final")
        return self._sinc(self._resize_lr(img, rng, record), rng, record)


# ----------------------------------------------------------------------------------------------- HR sharpening

def gaussian_taps(size: int, sigma: float = 0) -> np.ndarray:
    """``cv2.getGaussianKernel(size, sigma)``; sigma 0: 0.3 * ((size - 1) / 2 - 1) + 0.8."""
    return cv2.getGaussianKernel(size, sigma).astype(np.float32).ravel()


def blur_separable(x: torch.Tensor, taps: np.ndarray) -> torch.Tensor:
    """Every channel of an NCHW tensor filtered by the 1-D ``taps`` along both axes, reflect-padded as in
    BasicSR's ``filter2D``."""
    size, c = len(taps), x.shape[1]
    k = torch.from_numpy(taps).to(x.device, x.dtype)
    pad = size // 2
    x = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = torch.nn.functional.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, size), groups=c)
    return torch.nn.functional.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, size, 1), groups=c)


def usm_sharp(img: torch.Tensor, weight: float = 0.5, radius: int = 50, threshold: float = 10) -> torch.Tensor:
    """Unsharp masking of RGB float [0, 1] NCHW images, Real-ESRGAN's ``usm_sharp`` (its sharpened HR targets).

    ``residual = img - gaussian(img)``; where ``|residual| * 255 > threshold`` (a mask, itself blurred) the
    image becomes ``clip(img + weight * residual)``; elsewhere it stays. ``radius`` is the Gaussian's size
    (made odd; 51 taps: sigma 8), reflect padding as in BasicSR's ``filter2D``.
    """
    taps = gaussian_taps(radius + 1 if radius % 2 == 0 else radius)

    def blur(x):
        return blur_separable(x, taps)

    residual = img - blur(img)
    mask = (residual.abs() * 255 > threshold).to(img.dtype)
    soft = blur(mask)
    sharp = (img + weight * residual).clamp(0, 1)
    return soft * sharp + (1 - soft) * img


# ----------------------------------------------------------------------------------------------- public boundary

def degrade_array(hr: np.ndarray, scale: int = 4, config: str | DegradationConfig | None = None, seed: int = 0,
                  index: int = 0) -> tuple[np.ndarray, list[dict]]:
    """HWC RGB uint8 or float [0, 1] -> (LR float32 HWC on the 8-bit grid, record); RNG ``(seed, index)``."""
    return RealDegradation(config)(hr, scale, np.random.default_rng((seed, index)))


def degrade_real(img: Image.Image | torch.Tensor, scale: int = 4, config: str | DegradationConfig | None = None,
                 seed: int = 0, index: int = 0, return_record: bool = False):
    """Degrade a PIL image (-> PIL RGB) or an RGB float [0, 1] NCHW tensor (-> NCHW tensor, image ``i`` drawn
    with index ``index + i``). With ``return_record`` also returns the record (a list per image for tensors)."""
    pipeline = RealDegradation(config)
    if isinstance(img, Image.Image):
        lr, rec = pipeline(np.asarray(img.convert("RGB")), scale, np.random.default_rng((seed, index)))
        out = Image.fromarray(np.round(lr * 255).astype(np.uint8))
        return (out, rec) if return_record else out
    if isinstance(img, torch.Tensor):
        x = img[None] if img.dim() == 3 else img
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected an (N, 3, H, W) tensor, got {tuple(img.shape)}")
        arrays = x.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()
        outs, recs = [], []
        for i, a in enumerate(arrays):
            lr, rec = pipeline(a, scale, np.random.default_rng((seed, index + i)))
            outs.append(torch.from_numpy(np.ascontiguousarray(lr.transpose(2, 0, 1))))
            recs.append(rec)
        out = torch.stack(outs)
        out = out[0] if img.dim() == 3 else out
        return (out, recs) if return_record else out
    raise TypeError(f"expected a PIL image or a tensor, got {type(img).__name__}")


__all__ = ["DegradationConfig", "Order", "FIRST", "SECOND", "DEGRADATION_PRESETS", "MILD", "KERNEL_TYPES", "RealDegradation",
           "get_config", "seed_config", "blur_kernel", "sinc_kernel", "sample_kernel", "bessel_j1", "add_gaussian_noise", "add_poisson_noise",
           "jpeg", "degrade_array", "degrade_real", "usm_sharp"]
