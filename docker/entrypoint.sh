#!/bin/sh
# Container entry point: seed the models folder (a volume, often empty on first use) with the
# model bundles shipped in the image, then run the command (default: mods-serve ...).
# A bundle already in the volume is never overwritten (a retrained "default" stays).
set -eu
seed=${MODS_SEED_MODELS_DIR:-/opt/mods/seed-models}
models=${MODS_MODELS_DIR:-/srv/mods/models}
for src in "$seed"/*.zip; do
  [ -f "$src" ] || continue
  dest="$models/$(basename "$src")"
  [ -e "$dest" ] && continue
  # Copy to a hidden temporary name, then rename: a reader never sees half a bundle.
  tmp="$models/.$(basename "$src" .zip).seed.tmp"
  if cp "$src" "$tmp" 2>/dev/null && mv -f "$tmp" "$dest"; then
    echo "mods-entrypoint: seeded $dest from $src" >&2
  else
    rm -f "$tmp" 2>/dev/null || true
    echo "mods-entrypoint: WARNING: cannot write $dest (is $models writable by uid $(id -u)?);" \
         "the shipped model $(basename "$src" .zip) is not available" >&2
  fi
done
exec "$@"
