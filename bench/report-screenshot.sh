#!/usr/bin/env bash
# Renders report.html in headless Chromium (installed with apt if absent) and saves a
# full-page screenshot, with the network cut off, so a report that needed anything outside
# itself would show it missing. Checks first that the file references nothing outside itself.
# Usage: bench/report-screenshot.sh [REPORT_DIR] [OUT_PNG]
#   (without REPORT_DIR: the report of fixtures/example-run, written to a temporary folder)
set -euo pipefail
cd "$(dirname "$0")/.."
report="${1:-}"
out="${2:-report-screenshot.png}"
if [ -z "$report" ]; then
  report="$(mktemp -d)/report"
  cargo run --release --quiet -- analyze fixtures/example-run --out "$report" > /dev/null
fi
html="$report/report.html"
# Self-contained: no src/href to a URL or a file; images are data URIs.
if grep -Eo '(src|href)="[^"]*"' "$html" | grep -Ev '="(data:|#)' ; then
  echo "report.html references something outside itself (above)" >&2
  exit 1
fi
browser="$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)"
if [ -z "$browser" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium > /dev/null || $sudo apt-get install -y -qq chromium-browser > /dev/null
  browser="$(command -v chromium || command -v chromium-browser)"
fi
# A proxy that does not exist: any request for something outside the file fails.
"$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars \
  --proxy-server=127.0.0.1:9 --proxy-bypass-list='<-loopback>' \
  --window-size=1280,9000 --screenshot="$(realpath -m "$out")" "file://$(realpath "$html")" 2> /dev/null
python3 - "$out" <<'PY'
import struct, sys
with open(sys.argv[1], "rb") as f:
    head = f.read(24)
assert head[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
w, h = struct.unpack(">II", head[16:24])
print(f"{sys.argv[1]}: {w} x {h} screenshot of report.html")
PY
