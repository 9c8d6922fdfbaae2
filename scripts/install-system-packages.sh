#!/usr/bin/env bash
# The system packages deckgen's print tests and `deckgen build --pdf` use: a Chromium to
# print, and its ChromeDriver, with which the site's tests drive it; CJK fonts for the sources'
# Chinese titles, math fonts (Latin Modern Math and the TeX Gyre math fonts, which the print
# CSS names for MathML), and poppler to read the PDFs back; on Linux also TrueType text fonts
# (Noto Serif, WenQuanYi Micro Hei for Chinese), which Chromium embeds as real fonts: from the
# CFF-flavoured Noto CJK alone it makes Type 3 fonts.
#
# What is missing is installed with apt-get (Debian, Ubuntu: it waits up to ten minutes for
# a held apt lock), dnf (Fedora, RHEL) or Homebrew (macOS). Where none of them can, this
# says what to install and exits 0 all the same, so that the README's test command still
# runs the tests: each test that needs a missing tool is skipped, naming it (in CI, where
# CI=true, it fails instead). A package manager that fails stops the script, with its error.
#
# Runs on macOS's bash 3.2 too, and uses only bash's builtins besides the tools it looks for.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

have_browser() {  # the browsers deckgen.pdf looks for, or the one DECKGEN_CHROMIUM names
  if [ -n "${DECKGEN_CHROMIUM:-}" ] && { [ -f "$DECKGEN_CHROMIUM" ] || have "$DECKGEN_CHROMIUM"; }; then
    return 0
  fi
  have chromium || have chromium-browser || have google-chrome || have google-chrome-stable
}

have_cjk_fonts() {
  local fonts
  if have fc-list; then
    fonts="$(fc-list 2>/dev/null || true)"
    [[ "$fonts" == *"Noto Sans CJK"* ]]
  else  # macOS without fontconfig: where Homebrew's font casks install
    compgen -G "$HOME/Library/Fonts/NotoSansCJK*" >/dev/null || compgen -G "/Library/Fonts/NotoSansCJK*" >/dev/null
  fi
}

have_math_fonts() {
  if have fc-list; then
    [[ "$(fc-list 2>/dev/null || true)" == *"Latin Modern Math"* ]]
  else  # macOS without fontconfig: where Homebrew's font casks install
    compgen -G "$HOME/Library/Fonts/latinmodern-math*" >/dev/null || compgen -G "/Library/Fonts/latinmodern-math*" >/dev/null
  fi
}

have_font_file() {  # have_font_file NAME: fontconfig knows a font file whose path holds NAME
  have fc-list && [[ "$(fc-list 2>/dev/null || true)" == *"$1"* ]]
}

# TrueType fonts for the print's text. Without fontconfig (macOS) the system's fonts serve.
have_text_fonts() { ! have fc-list || have_font_file NotoSerif-Regular.ttf; }
have_cjk_truetype() { ! have fc-list || have_font_file wqy-microhei; }

need=()  # what is missing: browser, driver, poppler, cjk-fonts, math-fonts, text-fonts, cjk-truetype
have_browser || need+=(browser)
have chromedriver || need+=(driver)
{ have pdftotext && have pdfinfo; } || need+=(poppler)
have_cjk_fonts || need+=(cjk-fonts)
have_math_fonts || need+=(math-fonts)
have_text_fonts || need+=(text-fonts)
have_cjk_truetype || need+=(cjk-truetype)
if [ ${#need[@]} -eq 0 ]; then
  echo "system packages already installed"
  exit 0
fi

# package MANAGER NEED: what MANAGER calls the packages that provide NEED, separated by spaces
# ("--cask NAME" for a Homebrew cask).
package() {
  case "$1:$2" in
    apt-get:browser | dnf:browser) echo chromium ;;
    apt-get:driver) echo chromium-driver ;;
    dnf:driver) echo chromedriver ;;
    apt-get:poppler | dnf:poppler) echo poppler-utils ;;
    apt-get:cjk-fonts) echo fonts-noto-cjk ;;
    dnf:cjk-fonts) echo google-noto-sans-cjk-fonts ;;
    apt-get:math-fonts) echo fonts-lmodern fonts-texgyre-math ;;
    dnf:math-fonts) echo texlive-lm-math texlive-tex-gyre-math ;;
    apt-get:text-fonts) echo fonts-noto-core ;;
    dnf:text-fonts) echo google-noto-serif-fonts ;;
    apt-get:cjk-truetype) echo fonts-wqy-microhei ;;
    dnf:cjk-truetype) echo wqy-microhei-fonts ;;
    brew:browser) echo "--cask chromium" ;;
    brew:driver) echo "--cask chromedriver" ;;
    brew:poppler) echo poppler ;;
    brew:cjk-fonts) echo "--cask font-noto-sans-cjk" ;;
    brew:math-fonts) echo "--cask font-latin-modern-math" ;;
  esac
}

by_hand() {  # by_hand WHY: say what to install, and let the tests run without it
  local item
  echo "$1: install these by hand, then run $0 again:" >&2
  for item in "${need[@]}"; do
    case "$item" in
      browser) echo "  - Chromium or Google Chrome, on PATH (or set DECKGEN_CHROMIUM to its path)" >&2 ;;
      driver) echo "  - ChromeDriver, of the browser's version, on PATH (Debian: chromium-driver; Fedora: chromedriver; Homebrew: --cask chromedriver)" >&2 ;;
      poppler) echo "  - poppler's pdftotext and pdfinfo (Debian and Fedora: poppler-utils; Homebrew: poppler)" >&2 ;;
      cjk-fonts) echo "  - the Noto Sans CJK fonts (Debian: fonts-noto-cjk; Fedora: google-noto-sans-cjk-fonts)" >&2 ;;
      math-fonts) echo "  - the Latin Modern Math font (Debian: fonts-lmodern fonts-texgyre-math; Fedora: texlive-lm-math; Homebrew: --cask font-latin-modern-math)" >&2 ;;
      text-fonts) echo "  - the Noto Serif fonts, TrueType (Debian: fonts-noto-core; Fedora: google-noto-serif-fonts)" >&2 ;;
      cjk-truetype) echo "  - WenQuanYi Micro Hei, TrueType (Debian: fonts-wqy-microhei; Fedora: wqy-microhei-fonts)" >&2 ;;
    esac
  done
  echo "until then, the tests that need them are skipped, each naming what it needs (with CI=true, they fail)" >&2
  exit 0
}

# as_root COMMAND...: run COMMAND as root, through sudo unless this is root already (sudo
# passes DEBIAN_FRONTEND on only when told to).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif [ -n "${DEBIAN_FRONTEND:-}" ]; then
    sudo DEBIAN_FRONTEND="$DEBIAN_FRONTEND" "$@"
  else
    sudo "$@"
  fi
}

packages=()
if have apt-get || have dnf; then
  if [ "$(id -u)" -ne 0 ] && ! have sudo; then
    by_hand "not root, and no sudo to install with"
  fi
  if have apt-get; then
    manager=apt-get
    for item in "${need[@]}"; do
      for name in $(package apt-get "$item"); do packages+=("$name"); done
    done
    export DEBIAN_FRONTEND=noninteractive  # no questions from the packages' scripts
    # Wait for whatever holds the apt lock (unattended upgrades at boot, say) instead of failing.
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
  else
    manager=dnf
    for item in "${need[@]}"; do
      for name in $(package dnf "$item"); do packages+=("$name"); done
    done
    as_root dnf install -y -q "${packages[@]}"
  fi
elif have brew && [ "$(uname -s)" = Darwin ]; then
  manager=brew  # as whoever runs this: Homebrew refuses to run as root
  formulae=()
  casks=()
  for item in "${need[@]}"; do
    name="$(package brew "$item")"
    if [[ "$name" == "--cask "* ]]; then casks+=("${name#--cask }"); else formulae+=("$name"); fi
  done
  if [ ${#formulae[@]} -gt 0 ]; then brew install "${formulae[@]}"; packages+=("${formulae[@]}"); fi
  if [ ${#casks[@]} -gt 0 ]; then brew install --cask "${casks[@]}"; packages+=("${casks[@]}"); fi
else
  by_hand "no apt-get, dnf or (on macOS) brew here"
fi
echo "installed ${packages[*]} with $manager"
