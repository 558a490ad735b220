"""Build every kind of report page from tiny runs and screenshot each in headless Chromium.

    python scripts/screenshot_reports.py [--model runs/testbed/base] [--out docs/screenshots]

Pages: the quickstart (tiny testbed); an eval run of ``--model`` (default: the tiny testbed's
base) over the six testbed languages; an eval run of an untrained tiny Llama over all 18
PolyMath-low languages (its random text exercises every script's font; Arabic shows right to
left; needs ../shared/data); and the comparison of ``--model``'s native-CoT and English-CoT
runs. Each is written as HTML by the real commands (every run recomputed, its report
re-rendered, so template changes always show), then, in headless Chromium, checked and
screenshotted to ``OUT/<page>.png`` (what the README and docs/evaluation.md show), full length.

The check measures every chart text as the browser draws it (``getBBox``, real fonts) and
fails when one falls outside its chart or overlaps another: the rule that
``tests/report/test_charts.py`` applies with estimated widths, here with real ones. Not part of CI: it needs Chromium and fonts for
every script, from Debian:

    apt-get install chromium fonts-noto-core fonts-noto-cjk
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

PAGES = {  # name: the HTML file under the work folder
    "quickstart": "quickstart/report.html",
    "eval-run-testbed": "testbed-eval/report.html",
    "eval-run-18-languages": "polymath/report.html",
    "comparison": "comparison/comparison.html",
}

# Injected into a copy of each page (the pages themselves have no scripts): every chart text's
# drawn box must lie inside its chart and off every other text; and the page's full height.
_CHECK = """<script>
const problems = [];
document.querySelectorAll("svg.chart").forEach((svg) => {
  const view = svg.viewBox.baseVal, boxes = [];
  const name = svg.getAttribute("aria-label");
  svg.querySelectorAll("text").forEach((text) => {
    const b = text.getBBox();
    const words = [...text.childNodes].filter((n) => n.nodeType === 3).map((n) => n.data).join("");
    if (b.x < -0.5 || b.y < -0.5 || b.x + b.width > view.width + 0.5 ||
        b.y + b.height > view.height + 0.5) problems.push(`${name}: "${words}" outside the chart`);
    for (const [other, o] of boxes) {
      if (b.x + b.width > o.x + 0.5 && o.x + o.width > b.x + 0.5 &&
          b.y + b.height > o.y + 0.5 && o.y + o.height > b.y + 0.5)
        problems.push(`${name}: "${words}" overlaps "${other}"`);
    }
    boxes.push([words, b]);
  });
});
document.body.dataset.problems = JSON.stringify(problems);
document.body.dataset.height = document.documentElement.scrollHeight;
</script>"""


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
    _polyglot("quickstart", "--tiny", "--quiet", "--fresh", "--testbed", str(testbed),
              "--out", str(work / "quickstart"))  # fmt: skip
    model = str(args.model or testbed / "base")
    data = f"{testbed}/world/{{split}}/{{lang}}.jsonl"
    for mode, folder in (("native-cot", "testbed-eval"), ("en-cot", "testbed-en-cot")):
        _polyglot("eval", "--model", model, "--benchmark", "testbed", "--data", data,
                  "--limit", "24", "--max-new-tokens", "160", "--mode", mode, "--quiet",
                  "--overwrite", "--out", str(work / folder))  # fmt: skip
    from polyglot.testbed.model import TinyModelSpec, random_checkpoint

    random = random_checkpoint(
        work / "random", TinyModelSpec(layers=2, hidden=64, intermediate=128)
    )
    _polyglot("eval", "--model", str(random), "--benchmark", "polymath-low", "--limit", "3",
              "--max-new-tokens", "40", "--quiet", "--overwrite",
              "--out", str(work / "polymath"))  # fmt: skip
    _polyglot("report", str(work / "testbed-eval"), str(work / "testbed-en-cot"),
              "--out", str(work / "comparison"))  # fmt: skip

    failed = False
    for name, page in PAGES.items():
        problems, height = _check(browser, work / page)
        for problem in problems:
            print(f"{name}: {problem}", file=sys.stderr)
        failed |= bool(problems)
        _screenshot(browser, work / page, out / f"{name}.png", min(height + 20, 8000))
        if name == "eval-run-testbed":  # the top of it, for the top of the README
            _screenshot(browser, work / page, out / "eval-run-top.png", 1180)
        verdict = "FAILED" if problems else "ok"
        print(f"{out / name}.png: {height} px, chart geometry in the browser {verdict}", flush=True)
    if failed:
        sys.exit("chart texts outside their charts or overlapping (above)")


def _screenshot(browser: str, page: Path, target: Path, height: int) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={target}",
            f"--window-size=1200,{height}",
            page.as_uri(),
        ],  # fmt: skip
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _check(browser: str, page: Path) -> tuple[list[str], int]:
    """Chart problems as the browser draws the page, and the page's height in px."""
    import json
    import re
    import tempfile
    from html import unescape

    html = page.read_text(encoding="utf-8").replace("</body>", _CHECK + "</body>")
    with tempfile.NamedTemporaryFile("w", suffix=".html", dir=page.parent, delete=False) as tmp:
        tmp.write(html)
    try:
        dom = subprocess.run(
            [
                browser,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--window-size=1200,1000",
                "--dump-dom",
                Path(tmp.name).as_uri(),
            ],  # fmt: skip
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        Path(tmp.name).unlink()
    problems = re.search(r'data-problems="([^"]*)"', dom)
    height = re.search(r'data-height="(\d+)"', dom)
    if not problems or not height:
        sys.exit(f"{page}: the browser check did not run")
    return json.loads(unescape(problems.group(1))), int(height.group(1))


if __name__ == "__main__":
    main()
