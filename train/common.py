"""Where the training code lived before issue 27 split it; kept for the study modules that still import from here.

Homes now: ``train.config`` (``TrainConfig``, ``--key=value``, recipes), ``train.loop`` (``run``, ``main``,
``update_ema``, ``lr_factor``, ``validation_pairs``), ``train.records`` (``config.json``, ``metrics.jsonl``,
grids, curves, ``without_machine_paths``). New code imports from those.
"""

from .config import CONTENT_SCALES, TINY, TrainConfig, explicit_keys, parse_overrides
from .loop import lr_factor, main, run, update_ema, validation_pairs
from .records import read_metrics, without_machine_paths

__all__ = ["CONTENT_SCALES", "TINY", "TrainConfig", "explicit_keys", "parse_overrides", "lr_factor", "main", "run",
           "update_ema", "validation_pairs", "read_metrics", "without_machine_paths"]
