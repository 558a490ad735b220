"""Build every kind of report page from tiny runs and screenshot each in headless Chromium.

    python scripts/screenshot_reports.py [--model runs/testbed/base] [--out docs/screenshots]

Pages: the quickstart (tiny testbed); an eval run of ``--model`` (default: the tiny testbed's
base) over the six testbed languages; an eval run of an untrained tiny Llama over all 18
PolyMath-low languages (its random text exercises every script's font; Arabic shows right to
left; needs ../shared/data); and the comparison of ``--model``'s native-CoT and English-CoT
runs. Each is written as HTML by the real commands, then screenshotted to
``OUT/<page>.png`` (what the README shows). Not part of CI: it needs Chromium and fonts for
every script, from Debian:

    apt-get install chromium fonts-noto-core fonts-noto-cjk
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

PAGES = {
    # name: (the HTML file under the work folder, window height)
    "quickstart": ("quickstart/report.html", 1500),
    "eval-run-testbed": ("testbed-eval/report.html", 2300),
    "eval-run-18-languages": ("polymath/report.html", 3000),
    "comparison": ("comparison/comparison.html", 1450),
}


def _polyglot(*args: str) -> None:
    command = [sys.executable, "-m", "polyglot", *args]
    print("$ polyglot", " ".join(args), flush=True)
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("no Chromium found: apt-get install chromium fonts-noto-core fonts-noto-cjk")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--work", type=Path, default=Path("runs/screenshots"))
    parser.add_argument("--model", type=Path, default=None, help="model for the testbed page")
    args = parser.parse_args()
    browser = _chromium()
    work, out = args.work.resolve(), args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    testbed = work / "testbed"
    _polyglot("quickstart", "--tiny", "--no-progress", "--testbed", str(testbed),
              "--out", str(work / "quickstart"))  # fmt: skip
    model = str(args.model or testbed / "base")
    data = f"{testbed}/world/{{split}}/{{lang}}.jsonl"
    for mode, folder in (("native-cot", "testbed-eval"), ("en-cot", "testbed-en-cot")):
        _polyglot("eval", "--model", model, "--benchmark", "testbed", "--data", data,
                  "--limit", "24", "--max-new-tokens", "160", "--mode", mode, "--no-progress",
                  "--out", str(work / folder))  # fmt: skip
    from polyglot.testbed.model import TinyModelSpec, random_checkpoint

    random = random_checkpoint(
        work / "random", TinyModelSpec(layers=2, hidden=64, intermediate=128)
    )
    _polyglot("eval", "--model", str(random), "--benchmark", "polymath-low", "--limit", "3",
              "--max-new-tokens", "40", "--no-progress", "--out", str(work / "polymath"))  # fmt: skip
    _polyglot("report", str(work / "testbed-eval"), str(work / "testbed-en-cot"),
              "--out", str(work / "comparison"))  # fmt: skip

    for name, (page, height) in PAGES.items():
        target = out / f"{name}.png"
        subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                f"--screenshot={target}",
                f"--window-size=1200,{height}",
                (work / page).as_uri(),
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        print(f"{target}", flush=True)


if __name__ == "__main__":
    main()
