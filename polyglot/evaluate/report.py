"""Reports of evaluation runs: ``report.md`` and a self-contained ``report.html`` per run, and a
side-by-side comparison of several runs with paired significance tests."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from polyglot.config import ConfigError
from polyglot.evaluate.charts import diverging_bars, grouped_bars, stacked_shares
from polyglot.evaluate.metrics import mcnemar_exact, paired_bootstrap
from polyglot.evaluate.records import read_records
from polyglot.files import check_output_dir, read_json, write_atomic, write_json

COMPARISON_SCHEMA = "polyglot.eval.comparison/1"

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;padding:0 1rem}h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;
margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}.meta{color:#666;font-size:.9rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{padding:.25rem .6rem;
text-align:right;border-bottom:1px solid #eee}th{background:#f5f5f5}td:first-child,
th:first-child{text-align:left}.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{background:#f5f7fa;
border-radius:8px;padding:.7rem 1rem;min-width:9rem}.card b{display:block;font-size:1.4rem}
.chart{margin:.5rem 1rem .5rem 0;background:#fff}.chart-title{font-size:13px;font-weight:600}
.tick,.label,.legend,.value{font-size:11px;fill:#444}.grid{stroke:#eee}.axis{stroke:#999}
.whisker{stroke:#222;stroke-width:1.2}.bad{color:#b00}.good{color:#070}pre{white-space:pre-wrap;
background:#f7f7f7;padding:.5rem;font-size:.8rem}details{margin:.3rem 0}
"""


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _num(value, fmt="{:+.1f}") -> str:
    return "–" if value is None else fmt.format(value)


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _language_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    headers = [
        "lang",
        "n",
        "accuracy %",
        "95% CI (Wilson)",
        "gap pts",
        "ratio",
        "no answer",
        "both / en only / lang only",
        "CoT in lang / en / other %",
        "tokens",
    ]
    rows = []
    for lang, r in results["languages"].items():
        c, f = r.get("consistency"), r.get("fidelity")
        rows.append(
            [
                lang,
                str(r["n"]),
                _pct(r["accuracy"]),
                f"{_pct(r['ci95'][0])}–{_pct(r['ci95'][1])}",
                _num(r.get("gap_points")),
                _num(r.get("gap_ratio"), "{:.2f}"),
                str(r["no_answer"]),
                f"{_pct(c['both'])} / {_pct(c['english_only'])} / {_pct(c['language_only'])}"
                if c
                else "–",
                f"{_pct(f['target'])} / {_pct(f['en'])} / {_pct(f['other'])}" if f else "–",
                _num(r.get("mean_new_tokens"), "{:.0f}"),
            ]
        )
    return headers, rows


def _describe(results: dict) -> dict:
    run = results["run"]
    config, model = run["config"], run["model"]
    return {
        "model": model["model"]
        + (f" + adapter {model['adapter']}" if model.get("adapter") else ""),
        "benchmark": run["benchmark"]["name"],
        "prompt": f"{config['mode']}, {config['shots']}-shot"
        + (", chat template" if config.get("chat_template") else ""),
        "decoding": "greedy"
        if config["temperature"] <= 0
        else f"T={config['temperature']}, top-p {config['top_p']}, {config['samples']} samples (majority vote)",
        "backend": f"{model.get('backend')} on {model.get('device')} ({model.get('dtype')})",
        "fingerprint": str(model.get("fingerprint")),
        "finished": str(run.get("finished")),
    }


def render_markdown(results: dict) -> str:
    d, s = _describe(results), results["summary"]
    headers, rows = _language_rows(results)
    lines = [
        f"# {results['run']['name']}: {d['model']} on {d['benchmark']}",
        "",
        f"Prompt: {d['prompt']}. Decoding: {d['decoding']}. Backend: {d['backend']}. "
        f"Model fingerprint {d['fingerprint']}. Finished {d['finished']}.",
        "",
        f"- English accuracy: {_pct(s['english_accuracy'])}%",
        f"- Mean accuracy of the other languages: {_pct(s['mean_accuracy_non_english'])}%",
        f"- Mean gap to English: {_num(s['mean_gap_points'])} points",
        f"- Mean share of the CoT in the question's language (non-English): "
        f"{_pct(s['mean_target_fidelity_non_english'])}%",
        f"- Items: {s['items']}, without an extractable answer: {s['no_answer']}",
        *_truncation_lines(results),
        "",
        _md_table(headers, rows),
        "",
        "CI: Wilson score interval, 95%. gap: accuracy(lang) - accuracy(en) in points; "
        "ratio: accuracy(lang)/accuracy(en). both / en only / lang only: share of parallel items "
        "solved in English and the language, in English only, in the language only. CoT: share "
        "of the output's letters (sentence by sentence, fastText) in each language.",
        "",
    ]
    return "\n".join(lines)


def _truncation_lines(results: dict) -> list[str]:
    cut = results["summary"].get("truncated_prompts")
    if not cut:
        return []
    per = ", ".join(
        f"{lang} {r['truncated_prompts']}"
        for lang, r in results["languages"].items()
        if r.get("truncated_prompts")
    )
    return [
        f"- **Warning: {cut} prompts were longer than the model's context and lost their start "
        f"({per}).**"
    ]


def _examples(records: list[dict], languages: list[str], per_language: int = 3) -> str:
    blocks = []
    for lang in languages:
        wrong = [r for r in records if r["lang"] == lang and not r["correct"]][:per_language]
        if not wrong:
            continue
        items = "".join(
            f"<details><summary>{escape(lang)} item {escape(str(r['id']))}: gold "
            f"{escape(_fmt_value(r['gold']))}, extracted {escape(_fmt_value(r['answer']))}"
            f"{' (' + escape(r['rule']) + ')' if r.get('rule') else ''}</summary>"
            f"<pre>{escape(r['prompt'][-600:])}</pre><pre>{escape(r['output'])}</pre></details>"
            for r in wrong
        )
        blocks.append(items)
    return "".join(blocks) or "<p>No wrong answers.</p>"


def _fmt_value(value) -> str:
    if value is None:
        return "none"
    return str(int(value)) if float(value).is_integer() else str(value)


def render_html(results: dict, records: list[dict]) -> str:
    d, s = _describe(results), results["summary"]
    langs = list(results["languages"])
    rows = results["languages"]
    headers, table_rows = _language_rows(results)
    cards = "".join(
        f'<div class="card">{escape(name)}<b>{value}</b></div>'
        for name, value in [
            ("English accuracy", f"{_pct(s['english_accuracy'])}%"),
            ("other languages (mean)", f"{_pct(s['mean_accuracy_non_english'])}%"),
            ("mean gap to English", f"{_num(s['mean_gap_points'])} pts"),
            ("CoT in question's language", f"{_pct(s['mean_target_fidelity_non_english'])}%"),
            ("no answer", f"{s['no_answer']} / {s['items']}"),
        ]
    )
    accuracy_chart = grouped_bars(
        "accuracy per language (95% Wilson CI)",
        langs,
        [
            (
                "accuracy",
                [rows[x]["accuracy"] for x in langs],
                [tuple(rows[x]["ci95"]) for x in langs],
            )
        ],
    )
    others = [x for x in langs if x != "en"]
    gap_chart = (
        diverging_bars(
            "gap to English (points)", others, [rows[x].get("gap_points") for x in others]
        )
        if "en" in langs and others
        else ""
    )
    fidelity_chart = stacked_shares(
        "language of the chain of thought", langs, [rows[x].get("fidelity") for x in langs]
    )
    meta = " · ".join(f"{k}: {escape(v)}" for k, v in d.items())
    body = (
        f'<h1>{escape(results["run"]["name"])}</h1><p class="meta">{meta}</p>'
        f'<div class="cards">{cards}</div>'
        + "".join(f'<p class="bad">{escape(line[2:])}</p>' for line in _truncation_lines(results))
        + f"<h2>Per language</h2>{_table(headers, table_rows)}"
        f"<h2>Charts</h2>{accuracy_chart}{gap_chart}{fidelity_chart}"
        f"<h2>Wrong answers (first 3 per language)</h2>{_examples(records, langs)}"
        f"<h2>Run</h2><pre>{escape(json.dumps(results['run']['config'], indent=1))}</pre>"
        f'<p class="meta">versions: {escape(json.dumps(results["run"]["versions"]))}</p>'
    )
    return _page(f"polyglot eval: {results['run']['name']}", body)


def write_run_reports(out: Path, results: dict, records: list[dict]) -> None:
    write_atomic(out / "report.md", render_markdown(results))
    write_atomic(out / "report.html", render_html(results, records))


# -- comparing runs --------------------------------------------------------------------------


def _load_run(path: Path) -> tuple[dict, dict[str, dict]]:
    results_file = path / "results.json"
    if path.is_file():
        raise ConfigError(f"{path}: is a file; pass the run folder")
    if not path.is_dir():
        raise ConfigError(f"{path}: no such run folder")
    if not results_file.exists():
        raise ConfigError(f"{path}: no results.json (not a finished polyglot eval run)")
    results = read_json(results_file, "results file")
    if not isinstance(results, dict) or not isinstance(results.get("languages"), dict):
        raise ConfigError(f"{results_file}: damaged results file (no 'languages')")
    return results, read_records(path / "generations.jsonl")


def compare_runs(paths: list[str | Path], *, seed: int = 0) -> dict:
    """Accuracy of each run per language, and each run against the first on the shared items."""
    if len(paths) < 1:
        raise ConfigError("give at least one run folder")
    runs = [(Path(p), *_load_run(Path(p))) for p in paths]
    names = _unique_names([p for p, _, _ in runs])
    languages = list(dict.fromkeys(lang for _, r, _ in runs for lang in r["languages"]))
    table = {
        lang: {
            name: r["languages"][lang]["accuracy"] if lang in r["languages"] else None
            for name, (_, r, _) in zip(names, runs, strict=True)
        }
        for lang in languages
    }
    pairs = []
    base_name, (_, _, base_records) = names[0], runs[0]
    for name, (_, _, records) in zip(names[1:], runs[1:], strict=True):
        for lang in languages:
            keys = sorted(k for k, r in base_records.items() if r["lang"] == lang and k in records)
            if not keys:
                continue
            a = [bool(base_records[k]["correct"]) for k in keys]
            b = [bool(records[k]["correct"]) for k in keys]
            diff, p_boot = paired_bootstrap(a, b, seed=seed)
            pairs.append(
                {
                    "baseline": base_name,
                    "run": name,
                    "lang": lang,
                    "n": len(keys),
                    "baseline_accuracy": round(sum(a) / len(a), 4),
                    "run_accuracy": round(sum(b) / len(b), 4),
                    "difference_points": round(100 * diff, 2),
                    "mcnemar_p": round(mcnemar_exact(a, b), 4),
                    "bootstrap_p": round(p_boot, 4),
                }
            )
    return {
        "schema": COMPARISON_SCHEMA,
        "runs": {name: str(p) for name, (p, _, _) in zip(names, runs, strict=True)},
        "identities": {
            name: {
                "fingerprint": r["run"].get("model", {}).get("fingerprint"),
                "dataset_hash": r["run"].get("dataset_hash"),
            }
            for name, (_, r, _) in zip(names, runs, strict=True)
        },
        "summary": {name: r["summary"] for name, (_, r, _) in zip(names, runs, strict=True)},
        "accuracy": table,
        "fidelity": {
            lang: {
                name: (r["languages"].get(lang) or {}).get("fidelity")
                for name, (_, r, _) in zip(names, runs, strict=True)
            }
            for lang in languages
        },
        "paired": pairs,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _unique_names(paths: list[Path]) -> list[str]:
    names = []
    for p in paths:
        name = p.name or str(p)
        while name in names:
            name = f"{p.parent.name}/{name}"
        names.append(name)
    return names


def render_comparison_markdown(comparison: dict) -> str:
    names = list(comparison["runs"])
    rows = [[lang] + [_pct(v.get(n)) for n in names] for lang, v in comparison["accuracy"].items()]
    lines = [
        "# Comparison of runs",
        "",
        "Accuracy (%) per language:",
        "",
        _md_table(["lang", *names], rows),
        "",
    ]
    if comparison["paired"]:
        lines += [
            "Paired on shared items, each run against the first:",
            "",
            _md_table(
                ["run", "lang", "n", "baseline %", "run %", "diff pts", "McNemar p", "bootstrap p"],
                _paired_rows(comparison),
            ),
            "",
        ]
    return "\n".join(lines)


def _paired_rows(comparison: dict) -> list[list[str]]:
    return [
        [
            p["run"],
            p["lang"],
            str(p["n"]),
            _pct(p["baseline_accuracy"]),
            _pct(p["run_accuracy"]),
            f"{p['difference_points']:+.1f}",
            f"{p['mcnemar_p']:.3g}",
            f"{p['bootstrap_p']:.3g}",
        ]
        for p in comparison["paired"]
    ]


def render_comparison_html(comparison: dict) -> str:
    names = list(comparison["runs"])
    langs = list(comparison["accuracy"])
    rows = [
        [escape(lang)] + [_pct(v.get(n)) for n in names]
        for lang, v in comparison["accuracy"].items()
    ]
    chart = grouped_bars(
        "accuracy per language",
        langs,
        [(n, [comparison["accuracy"][x][n] for x in langs], None) for n in names],
    )
    fidelity = "".join(
        stacked_shares(
            f"language of the CoT: {n}", langs, [comparison["fidelity"][x][n] for x in langs]
        )
        for n in names
    )
    paired = ""
    if comparison["paired"]:
        paired = "<h2>Paired on shared items (each run vs the first)</h2>" + _table(
            ["run", "lang", "n", "baseline %", "run %", "diff pts", "McNemar p", "bootstrap p"],
            [[escape(c) for c in row] for row in _paired_rows(comparison)],
        )
    body = (
        '<h1>Comparison of runs</h1><p class="meta">'
        + " · ".join(f"{escape(n)}: {escape(p)}" for n, p in comparison["runs"].items())
        + "</p>"
        + _table(["lang", *names], rows)
        + chart
        + paired
        + f"<h2>Language of the chain of thought</h2>{fidelity}"
    )
    return _page("polyglot: comparison of runs", body)


def write_comparison(comparison: dict, out: str | Path) -> Path:
    from polyglot.provenance import make_card, read_card, write_card

    out = check_output_dir(out)
    out.mkdir(parents=True, exist_ok=True)
    held = read_card(out)
    if (out / "run.json").exists() or (held and held.get("kind") != "comparison"):
        raise ConfigError(f"--out {out} holds another polyglot output; choose another folder")
    write_card(
        out,
        make_card("comparison", {"runs": comparison["runs"]}, inputs=comparison["identities"]),
    )
    write_json(out / "comparison.json", comparison)
    write_atomic(out / "comparison.md", render_comparison_markdown(comparison))
    write_atomic(out / "comparison.html", render_comparison_html(comparison))
    return out
