"""``python -m train.figures real-photo``: the README's headline picture, on a tiny JPEG."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from sr_core import has_weights


@pytest.mark.skipif(not (has_weights("real") and has_weights("real-psnr")), reason="real weights not shipped")
def test_real_photo_figure_is_bicubic_beside_the_default_detail(tmp_path):
    from train.figures import main

    rng = np.random.default_rng(0)
    photo = tmp_path / "photo.jpg"
    Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)).save(photo, quality=40)
    out = tmp_path / "fig.png"
    main(["real-photo", "--photo", str(photo), "--box", "4,2,20,14", "--out", str(out)])
    sheet = Image.open(out)
    assert sheet.size == (2 * 16 * 4 + 4, 12 * 4 + 18)  # two 4x crops side by side, a label row above
    left = np.asarray(sheet)[18:, :64].astype(int)
    right = np.asarray(sheet)[18:, 68:].astype(int)
    assert np.abs(left - right).mean() > 1  # the network's panel is not bicubic's
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["panels"] == ["bicubic", "real"] and record["detail"] == 0.5
    assert record["crop_box"] == [4, 2, 20, 14] and record["photo_size"] == [32, 24]
    assert set(record["weights_sha256"]) == {"real", "real-psnr"}
    with pytest.raises(SystemExit):
        main(["real-photo", "--photo", str(photo), "--box", "0,0,40,10", "--out", str(out)])
