"""The distributed teardown: after ``destroy_process_group`` no gloo thread may be left running.

torch 2.14: importing ``torch._dynamo`` (which ``DistributedDataParallel`` does on first use) after
``init_process_group`` keeps references to the default group, so ``destroy_process_group`` could not free
the gloo backend and its threads ran on into interpreter shutdown, where the process sometimes aborted
("terminate called without an active exception"; the flaky ``test_torchrun_two_processes``).
``sr_core.training.setup_distributed`` imports it first. Checked here in two real processes under
``torch.distributed.run``, by the thread names the kernel reports, not by timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

WORKER = r'''
import json, os, sys
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from sr_core.training import setup_distributed

def native_threads():
    return sorted(Path(f"/proc/self/task/{t}/comm").read_text().strip() for t in os.listdir("/proc/self/task"))

from pathlib import Path
rank, world, _ = setup_distributed("cpu")
model = DDP(torch.nn.Conv2d(3, 3, 3))
model(torch.rand(1, 3, 8, 8)).sum().backward()  # one all-reduce of the gradients
during = native_threads()
del model
dist.barrier()
dist.destroy_process_group()
Path(sys.argv[1], f"rank{rank}.json").write_text(json.dumps({"world": world, "during": during,
                                                              "after": native_threads()}))
'''


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc to list native threads")
@pytest.mark.timeout(900)
def test_destroy_process_group_leaves_no_gloo_thread(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(tmp_path)], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=800)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "terminate called" not in proc.stdout + proc.stderr
    for rank in (0, 1):
        report = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert report["world"] == 2
        assert any(name.startswith("gloo") or name.startswith("pt_gloo") for name in report["during"]), report
        leftover = [name for name in report["after"] if "gloo" in name]
        assert leftover == [], f"rank {rank}: gloo threads still running after destroy_process_group: {leftover}"
