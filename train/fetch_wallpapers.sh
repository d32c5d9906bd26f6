#!/usr/bin/env bash
# Optional extra training photographs from two Debian wallpaper packages.
#
#   bash train/fetch_wallpapers.sh DEST        # DEST: a folder OUTSIDE this repository
#   python -m train.srresnet --train_dirs=sr_train,/abs/path/to/DEST ...   # absolute entries are used as given
#
# What it does: `apt-get download` of plasma-workspace-wallpapers (KDE, ~94 MB) and ukui-wallpapers (~21 MB)
# into a temporary folder (nothing is installed; run `apt-get update` first if apt has no package lists),
# `dpkg-deb -x` of both, then copies ONLY the photographs listed in PHOTOS below into DEST, together with the
# packages' copyright files and a MANIFEST (package versions, sha256 of every copied file). The temporary
# folder is deleted. Do not copy the result into the repository: it is training data, not a project asset.
#
# How the list was made: every wallpaper of both packages (Debian 12 "bookworm": plasma-workspace-wallpapers
# 4:5.27.5-2, ukui-wallpapers 20.04.3-1.1) was looked at on a contact sheet and at 100 % crops. Kept: the
# photographs, each at its largest size (2560x1600; the smaller files in the same folder are downscaled copies
# of it). Left out: drawings, vector art and 3D/abstract renders (Altai, Autumn, Canopee, Cascade, Cluster,
# Elarun, Flow, FlyingKonqui, Honeywave, IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding,
# Shell, Volna, and all twelve ukui backgrounds), plus two borderline ones: DarkestHour (misty, almost no
# detail to learn from) and Kite (a sky photograph with a drawn kite pasted in). ukui-wallpapers therefore
# contributes no files; it is still fetched so the choice can be re-checked with the same command.
# Licence: the package's Debian copyright file says GPL-2+ (KDE Visual Design Group), each wallpaper's
# metadata.json says LGPLv3 and names its photographer (kept in the comments below); see COPYRIGHT.* in DEST.
# Never use mate-backgrounds.
#
# The photos are JPEGs (compression artefacts at full size); SR training here only takes random crops, so
# they can be used as they are, or downscaled by 2 first to hide the artefacts.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: bash train/fetch_wallpapers.sh DEST   (a folder outside the repository)" >&2
  exit 2
fi
repo="$(cd "$(dirname "$0")/.." && pwd -P)"
dest="$(realpath -m "$1")"
case "$dest/" in
  "$repo"/*) echo "refusing to write into the repository ($dest); choose a folder outside $repo" >&2; exit 2 ;;
esac
mkdir -p "$dest"

# folder under /usr/share/wallpapers -> the file kept (the largest size of each photograph)
PHOTOS=(
  "BytheWater/contents/images/2560x1600.jpg"     # wooden jetty by a lake, Maciej Wiklo
  "ColdRipple/contents/images/2560x1600.jpg"     # black-and-white pier in fog, Risto Saukonpaa
  "ColorfulCups/contents/images/2560x1600.jpg"   # stacked plastic cups from above, Dmitri Popov
  "EveningGlow/contents/images/2560x1600.jpg"    # rowing boats on a lake at sunset, Ian Hex
  "FallenLeaf/contents/images/2560x1600.jpg"     # autumn leaves, shallow depth of field, Martin Klapetek
  "Grey/contents/images/2560x1600.jpg"           # black-and-white facade, Sigi Sagi
  "OneStandsOut/contents/images/2560x1600.jpg"   # moss seen from above, Risto Saukonpaa
  "Path/contents/images/2560x1600.jpg"           # forest path, Risto Saukonpaa
  "summer_1am/contents/images/2560x1600.jpg"     # lake at dusk, Risto Saukonpaa
)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download plasma-workspace-wallpapers ukui-wallpapers) || {
  echo "apt-get download failed (no network, or no package lists: run 'apt-get update' first)" >&2
  exit 1
}
for deb in "$work"/*.deb; do
  dpkg-deb -x "$deb" "$work/root"
done

manifest="$dest/MANIFEST.txt"
{
  echo "# made by train/fetch_wallpapers.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  for deb in "$work"/*.deb; do
    echo "# package $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version) sha256 $(sha256sum "$deb" | cut -d' ' -f1)"
  done
} > "$manifest"
for rel in "${PHOTOS[@]}"; do
  src="$work/root/usr/share/wallpapers/$rel"
  name="plasma_${rel%%/*}.jpg"
  if [ ! -f "$src" ]; then
    echo "missing in this package version: $rel" >&2
    exit 1
  fi
  cp "$src" "$dest/$name"
  echo "$(sha256sum "$dest/$name" | cut -d' ' -f1)  $name  (usr/share/wallpapers/$rel)" >> "$manifest"
done
cp "$work/root/usr/share/doc/plasma-workspace-wallpapers/copyright" "$dest/COPYRIGHT.plasma-workspace-wallpapers"
cp "$work/root/usr/share/doc/ukui-wallpapers/copyright" "$dest/COPYRIGHT.ukui-wallpapers"
echo "${#PHOTOS[@]} photographs in $dest (list and checksums: $manifest)"
