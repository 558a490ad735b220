"""Every report page polyglot writes, HTML and Markdown, from one set of templates and charts.

A page function takes the results a command produced (a run's ``results.json`` and records, a
comparison, the quickstart's summary) and returns ``(html, markdown)``; the templates in
``templates/`` (jinja2, autoescaped) lay them out and ``charts.py`` draws the figures. Pages the
methods add (training curves, layer heatmaps, translation-rate curves) go here the same way.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from polyglot import __version__
from polyglot.packs import load_pack
from polyglot.report.charts import (
    Series,
    diverging_bars,
    grouped_bars,
    line_chart,
    stacked_bars,
)
from polyglot.report.format import number, pct, percent, points, value
from polyglot.strategies.selective.attribution import PARTS

TEMPLATES = Path(__file__).parent / "templates"
FIDELITY_PARTS = [("target", "question's language"), ("en", "English"), ("other", "other")]


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(template: str, **context) -> str:

    return _environment().get_template(template).render(version=__version__, **context)


def key_values(data: dict, prefix: str = "") -> list[tuple[str, str]]:
    """A nested dict as (dotted key, readable value) rows; lists of scalars joined by commas."""
    rows: list[tuple[str, str]] = []
    for key, item in data.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            rows += key_values(item, name)
        elif isinstance(item, list) and all(not isinstance(v, dict | list) for v in item):
            shown = ", ".join(str(v) for v in item[:12])
            rows.append((name, shown + (f", … ({len(item)} in all)" if len(item) > 12 else "")))
        else:
            rows.append((name, "–" if item is None or item == {} else str(item)))
    return rows


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def shares_for_display(lang: str, fidelity: dict | None) -> dict | None:
    """For an English question, the question's language *is* English: count it once."""
    if not fidelity:
        return None
    if lang == "en":
        return {"target": fidelity.get("target", 0.0), "en": 0.0, "other": fidelity.get("other", 0)}
    return fidelity


# -- one eval run ------------------------------------------------------------------------------

LANGUAGE_HEADERS = [
    "lang",
    "n",
    "accuracy %",
    "95% CI (Wilson)",
    "gap pts",
    "ratio",
    "no answer",
    "both / en only / lang only %",
    "CoT in lang / en / other %",
    "tokens",
    "prompts cut",
]
LANGUAGE_LEGEND = (
    "CI: Wilson score interval, 95%. gap: accuracy(lang) − accuracy(en) in points; ratio: "
    "accuracy(lang) / accuracy(en). both / en only / lang only: share of parallel items solved "
    "in English and the language, in English only, in the language only. CoT: share of the "
    "output's letters (sentence by sentence, fastText) in each language. prompts cut: prompts "
    "longer than the model's context, which lost their start."
)


def _thinks(results: dict) -> bool:
    return any(r.get("fidelity_thinking") for r in results["languages"].values()) or bool(
        results["run"].get("thinking")
    )


def _translates(results: dict) -> bool:
    return any(r.get("translation") for r in results["languages"].values())


def _headers(results: dict) -> list[str]:
    headers = LANGUAGE_HEADERS
    if _thinks(results):
        at = LANGUAGE_HEADERS.index("CoT in lang / en / other %")
        headers = [*LANGUAGE_HEADERS[:at], "answer in lang / en / other %",
                   "thinking in lang / en / other %", *LANGUAGE_HEADERS[at + 1 :]]  # fmt: skip
    if _translates(results):
        headers = [*headers, "translated %", "translation chrF"]
    return headers


def _translation_cells(row: dict) -> list[str]:
    figures = row.get("translation") or {}
    return [pct(figures.get("rate")), number(figures.get("chrf"), "{:.1f}")]


def _no_answer(r: dict) -> str:
    reasons = r.get("no_answer_reasons") or {}
    if not r["no_answer"] or not reasons:
        return str(r["no_answer"])
    return f"{r['no_answer']} (" + ", ".join(f"{why} {n}" for why, n in reasons.items()) + ")"


def _language_rows(results: dict) -> list[list[str]]:
    thinks, translates = _thinks(results), _translates(results)
    rows = []
    for lang, r in results["languages"].items():
        c, f = r.get("consistency"), r.get("fidelity")
        rows.append(
            [
                lang,
                str(r["n"]),
                pct(r["accuracy"]),
                f"{pct(r['ci95'][0])}–{pct(r['ci95'][1])}",
                points(r.get("gap_points")),
                number(r.get("gap_ratio"), "{:.2f}"),
                _no_answer(r),
                f"{pct(c['both'])} / {pct(c['english_only'])} / {pct(c['language_only'])}"
                if c
                else "–",
                _shares(lang, f),
                *([_shares(lang, r.get("fidelity_thinking"))] if thinks else []),
                number(r.get("mean_new_tokens"), "{:.0f}"),
                str(r.get("truncated_prompts", 0)),
                *(_translation_cells(r) if translates else []),
            ]
        )
    return rows


def _shares(lang: str, fidelity: dict | None) -> str:
    if not fidelity:
        return "–"
    english = "(same)" if lang == "en" else pct(fidelity["en"])  # counted once for English
    return f"{pct(fidelity['target'])} / {english} / {pct(fidelity['other'])}"


def _headline(results: dict) -> str:
    run = results["run"]
    config, model = run["config"], run["model"]
    adapter = f" + adapter {model['adapter']}" if model.get("adapter") else ""
    decoding = (
        "greedy"
        if config["temperature"] <= 0
        else f"T={config['temperature']}, top-p {config['top_p']}, {config['samples']} samples "
        "(majority vote)"
    )
    return (
        f"{model['model']}{adapter} on {run['benchmark']['name']} · "
        f"{config['mode']}, {config['shots']}-shot"
        + (", chat template" if config.get("chat_template") else "")
        + f" · {decoding} · {model.get('backend')} on {model.get('device')} "
        f"({model.get('dtype')}) · finished {run.get('finished')}"
    )


def _cards(results: dict) -> list[tuple[str, str]]:
    s = results["summary"]
    others = [r for lang, r in results["languages"].items() if lang != "en"]
    with_text = sum(1 for r in others if r.get("fidelity"))
    return [
        ("English accuracy", percent(s["english_accuracy"])),
        ("other languages (mean)", percent(s["mean_accuracy_non_english"])),
        ("mean gap to English", f"{points(s['mean_gap_points'])} pts"),
        (
            f"CoT in question's language ({with_text} of {len(others)} with text)",
            percent(s["mean_target_fidelity_non_english"]),
        ),
        ("no answer", f"{s['no_answer']} / {s['items']}"),
    ]


def _samples(records: list[dict], languages: list[str], per_language: int) -> list[dict]:

    samples = []
    for lang in languages:
        wrong = [r for r in records if r["lang"] == lang and not r["correct"]][:per_language]
        try:
            direction = load_pack(lang).direction
        except Exception:  # noqa: BLE001 - a run of a language whose pack is gone still renders
            direction = "auto"
        samples += [
            {
                "lang": lang,
                "id": r["id"],
                "gold": value(r["gold"]),
                "answer": value(r.get("answer")),
                "rule": r.get("rule"),
                "prompt": r["prompt"] if len(r["prompt"]) <= 400 else "…" + r["prompt"][-400:],
                "output": r["output"],
                "dir": direction,
                "first": i == 0,  # shown open: one example per language at a glance
            }
            for i, r in enumerate(wrong)
        ]
    return samples


def eval_run_page(
    results: dict, records: list[dict], warnings: list[str], per_language: int = 3
) -> tuple[str, str]:
    """A run's report: summary cards, the per-language table, accuracy with its intervals, the
    gap to English, the language of the CoT, wrong answers, and the run's config."""
    run, rows = results["run"], results["languages"]
    langs = list(rows)
    charts = [
        grouped_bars(
            "accuracy per language (95% Wilson CI)",
            langs,
            [
                Series(
                    "accuracy",
                    [rows[x]["accuracy"] for x in langs],
                    [tuple(rows[x]["ci95"]) for x in langs],
                )
            ],  # fmt: skip
        )
    ]
    others = [x for x in langs if x != "en"]
    if "en" in langs and others:
        charts.append(
            diverging_bars(
                "gap to English (points)", others, [rows[x].get("gap_points") for x in others]
            )
        )
    thinks = _thinks(results)
    charts.append(
        stacked_bars(
            "language of the answer" if thinks else "language of the chain of thought",
            langs,
            FIDELITY_PARTS,
            [shares_for_display(x, rows[x].get("fidelity")) for x in langs],
        )
    )
    if thinks:
        charts.append(
            stacked_bars(
                "language of the thinking",
                langs,
                FIDELITY_PARTS,
                [shares_for_display(x, rows[x].get("fidelity_thinking")) for x in langs],
                empty="no thinking",
            )
        )
    described = {k: v for k, v in run.items() if k not in ("config", "benchmark")}
    described["benchmark"] = {k: v for k, v in run["benchmark"].items() if k != "ids"}
    context = {
        "title": f"polyglot eval: {run['name']}",
        "name": run["name"],
        "headline": _headline(results),
        "cards": _cards(results),
        "warnings": warnings,
        "headers": _headers(results),
        "rows": _language_rows(results),
        "legend": LANGUAGE_LEGEND,
        "charts": charts,
        "per_language": per_language,
        "samples": _samples(records, langs, per_language),
        "config_rows": key_values(run["config"]),
        "config_json": json.dumps(run["config"], indent=1, ensure_ascii=False),
        "run_rows": key_values(described),
        "run_json": json.dumps(described, indent=1, ensure_ascii=False),
    }
    markdown = render(
        "eval_run.md.j2",
        **context,
        table=markdown_table(_headers(results), context["rows"]),
    )
    return render("eval_run.html.j2", **context), markdown


# -- a comparison of runs ----------------------------------------------------------------------

PAIRED_HEADERS = ["run", "lang", "n", "baseline %", "run %", "diff pts", "McNemar p", "bootstrap p"]


def _paired_rows(comparison: dict) -> list[list[str]]:
    return [
        [
            p["run"],
            p["lang"],
            str(p["n"]),
            pct(p["baseline_accuracy"]),
            pct(p["run_accuracy"]),
            points(p["difference_points"]),
            f"{p['mcnemar_p']:.3g}",
            f"{p['bootstrap_p']:.3g}",
        ]
        for p in comparison["paired"]
    ]


ATTRIBUTION_HEADERS = ["understood run", "lang", "gap items (right in English, wrong natively)",
                       "understanding failures", "other failures"]  # fmt: skip


def _attribution(comparison: dict) -> tuple[list[list[str]], list[str]]:

    rows, charts = [], []
    for name, table in (comparison.get("attribution") or {}).items():
        langs = list(table)
        for lang, row in table.items():
            rows.append([name, lang, str(row["gap"]),
                         f"{row['understanding']} ({pct(row['understanding_share'])}%)",
                         f"{row['reasoning']} ({pct(row['reasoning_share'])}%)"])  # fmt: skip
        charts.append(
            stacked_bars(
                f"where the gap comes from ({name} gives the reference English)",
                langs,
                PARTS,
                [
                    {"understanding": r["understanding"], "reasoning": r["reasoning"]}
                    if r["gap"]
                    else None
                    for r in table.values()
                ],
                empty="no gap",
            )
        )
    return rows, charts


TRANSLATION_HEADERS = ["run", "lang", "translated", "chrF", "accuracy gain (points, vs first run)"]
COST_HEADERS = ["run", "generations", "tokens generated", "translations generated",
                "translation tokens", "detector passes"]  # fmt: skip
SELECTIVE_HEADERS = ["lang", "native", "translate-all", "oracle share", "selective (translated)",
                     "gain recovered", "translated for 95% of the gain"]  # fmt: skip


def _strategy_sections(comparison: dict) -> list[dict]:
    """Translation quality next to the accuracy gain, and each selective run's
    accuracy-vs-translation-rate curve."""
    sections = []
    rows = [
        [name, lang, f"{pct(row.get('rate'))}%", number(row.get("chrf"), "{:.1f}"),
         points(row.get("gain_points"))]
        for name, table in (comparison.get("translations") or {}).items()
        for lang, row in table.items()
    ]  # fmt: skip
    if rows:
        sections.append(
            {"title": "Translation quality and accuracy gain",
             "text": "chrF of each run's translations against the benchmark's own English "
                     "(100: the reference itself), beside the accuracy it gained over the first run.",
             "headers": TRANSLATION_HEADERS, "rows": rows, "charts": []}
        )  # fmt: skip
    costs = {n: c for n, c in (comparison.get("cost") or {}).items() if c}
    if costs:
        sections.append(
            {"title": "Cost",
             "text": "Every generation each run made (sub-runs included: a selective run's "
                     "native and English attempts, CLC's pivots) and the tokens generated, "
                     "with the model's own translations counted apart.",
             "headers": COST_HEADERS,
             "rows": [[n, str(c["generations"]), str(c["new_tokens"]), str(c["translations"]),
                       str(c["translation_tokens"]), str(c.get("detector_passes", 0))]
                      for n, c in costs.items()],
             "charts": []}
        )  # fmt: skip
    for name, found in (comparison.get("selective") or {}).items():
        table = found["languages"]
        rows = []
        for lang, r in table.items():
            gain = r["translate_all"] - r["native"]
            recovered = (r["selective"]["accuracy"] - r["native"]) / gain if gain > 0 else None
            rows.append([lang, f"{pct(r['native'])}%", f"{pct(r['translate_all'])}%",
                         f"{pct(r['oracle_share'])}%",
                         f"{pct(r['selective']['accuracy'])}% ({pct(r['selective']['rate'])}%)",
                         "–" if recovered is None else f"{100 * recovered:.0f}%",
                         "–" if r["rate_for_95"] is None else f"{pct(r['rate_for_95'])}%"])  # fmt: skip
        series = [
            (lang, [x for x, _ in r["curve"]], [y for _, y in r["curve"]])
            for lang, r in table.items()
        ]
        chart = line_chart(
            f"{name}: accuracy as more items are translated (one threshold swept)",
            series, x_label="share of items translated", y_label="accuracy", percent_y=True,
            markers=False,
        )  # fmt: skip
        sections.append(
            {"title": f"Selective translation: {name}",
             "text": f"One threshold on the detector's scores swept over every value; each item "
                     f"answered natively below it and from {found['translate_all']} above it (no "
                     "new generation). Oracle share: the items wrong natively and right from the "
                     "translation, what a perfect detector translates.",
             "headers": SELECTIVE_HEADERS, "rows": rows, "charts": [chart]}
        )  # fmt: skip
    return sections


def _interval(intervals: dict, lang: str, name: str):
    found = (intervals.get(lang) or {}).get(name)
    return tuple(found) if found else None


def _with_interval(share: float | None, interval) -> str:
    if share is None or not interval:
        return pct(share)
    return f"{pct(share)} [{pct(interval[0])}–{pct(interval[1])}]"


def comparison_page(comparison: dict, sections: list[dict] | None = None) -> tuple[str, str]:
    """The comparison of runs; ``sections`` (``{"title", "text", "charts"}``) are added at the
    end (a merge grid's heatmaps)."""
    names = list(comparison["runs"])
    langs = list(comparison["accuracy"])
    intervals = comparison.get("intervals") or {}
    accuracy_rows = [
        [lang] + [_with_interval(v.get(n), (intervals.get(lang) or {}).get(n)) for n in names]
        for lang, v in comparison["accuracy"].items()
    ]
    charts = [
        grouped_bars(
            "accuracy per language (95% Wilson CI)" if intervals else "accuracy per language",
            langs,
            [
                Series(
                    n,
                    [comparison["accuracy"][x][n] for x in langs],
                    [_interval(intervals, x, n) for x in langs] if intervals else None,
                )
                for n in names
            ],
        )
    ]
    fidelity_charts = [
        stacked_bars(
            f"language of the CoT: {n}",
            langs,
            FIDELITY_PARTS,
            [shares_for_display(x, comparison["fidelity"][x][n]) for x in langs],
        )
        for n in names
    ]
    paired_rows = _paired_rows(comparison)
    attribution_rows, attribution_charts = _attribution(comparison)
    sections = _strategy_sections(comparison) + list(sections or [])
    for section in sections:
        if section.get("rows"):
            section["table"] = markdown_table(section["headers"], section["rows"])
    runs = {
        name: {"folder": folder, **comparison.get("identities", {}).get(name, {})}
        for name, folder in comparison["runs"].items()
    }
    context = {
        "title": "polyglot: comparison of runs",
        "run_rows": key_values(runs),
        "runs_json": json.dumps(runs, indent=1, ensure_ascii=False),
        "accuracy_headers": ["lang", *names],
        "accuracy_rows": accuracy_rows,
        "charts": charts,
        "paired_headers": PAIRED_HEADERS,
        "paired_rows": paired_rows,
        "fidelity_charts": fidelity_charts,
        "sections": sections,
        "attribution_headers": ATTRIBUTION_HEADERS,
        "attribution_rows": attribution_rows,
        "attribution_charts": attribution_charts,
    }
    markdown = render(
        "comparison.md.j2",
        sections=sections,
        attribution_table=(
            markdown_table(ATTRIBUTION_HEADERS, attribution_rows) if attribution_rows else ""
        ),
        runs=list(comparison["runs"].items()),
        accuracy_table=markdown_table(["lang", *names], accuracy_rows),
        paired_table=markdown_table(PAIRED_HEADERS, paired_rows) if paired_rows else "",
    )
    return render("comparison.html.j2", **context), markdown


# -- the quickstart ----------------------------------------------------------------------------


def quickstart_page(summary: dict, testbed_results: dict, out: Path) -> tuple[str, str]:
    """The quickstart's table of accuracy per stage (one row per model × benchmark), the base
    model's accuracy per testbed language, and the testbed build."""
    langs = summary["languages"]
    headers = ["model", "benchmark", "English", "other languages", "mean gap (pts)",
               "CoT in question's language", *langs]  # fmt: skip
    rows = []
    for row in summary["stages"]:
        cells = [
            row["model"],
            row["benchmark"],
            percent(row["english"]),
            percent(row["others"]),
            points(row["gap_points"]),
            percent(row["fidelity"]),
            *[percent(row["per_language"].get(lang)) for lang in langs],
        ]
        run = Path(row["run"])
        link = run.relative_to(out) if run.is_relative_to(out) else run
        rows.append({"cells": cells, "link": f"{link.as_posix()}/report.html"})
    results = testbed_results["languages"]
    charts = [
        grouped_bars(
            "base model on the testbed (95% Wilson CI)",
            list(results),
            [
                Series(
                    "accuracy",
                    [r["accuracy"] for r in results.values()],
                    [tuple(r["ci95"]) for r in results.values()],
                )
            ],  # fmt: skip
        )
    ]
    headline = (
        f"testbed: {summary['testbed']} · size: {summary['size']} · "
        f"{summary['foundation']['packs']} language packs"
    )
    build = summary["testbed_build"]
    html = render(
        "quickstart.html.j2",
        title="polyglot quickstart",
        headline=headline,
        headers=[*headers, "report"],
        rows=rows,
        charts=charts,
        build_rows=key_values(build),
        build_json=json.dumps(build, indent=1, ensure_ascii=False),
        time_rows=[[stage, f"{seconds:.1f}"] for stage, seconds in summary["seconds"].items()],
    )
    markdown = render(
        "quickstart.md.j2",
        headline=headline,
        table=markdown_table(headers, [row["cells"] for row in rows]),
    )
    return html, markdown
