#!/usr/bin/env bash
# The system packages deckgen's print tests and `deckgen build --pdf` use: a Chromium to
# print, CJK fonts for the sources' Chinese titles, and poppler-utils to read the PDFs back.
# Debian and Ubuntu; elsewhere, install the same by hand.
set -euo pipefail
need=()
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null \
   && ! command -v google-chrome >/dev/null && ! command -v google-chrome-stable >/dev/null; then
  need+=(chromium)
fi
command -v pdftotext >/dev/null || need+=(poppler-utils)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages already installed"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "no apt-get here: install ${need[*]} (or your system's equivalents) by hand" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
echo "installed ${need[*]}"
