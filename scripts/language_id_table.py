"""Reproduce the language-ID table of docs/language-id.md: accuracy per language on the
question column of every shared MGSM and PolyMath file, for polyglot's detector and for raw
fastText lid.176.

    .venv/bin/python scripts/language_id_table.py
"""

from __future__ import annotations


def main() -> None:
    from polyglot.data import load_benchmark
    from polyglot.detect import detect_language
    from polyglot.detect.language_id import fasttext_scores

    benchmarks = [load_benchmark("mgsm"), load_benchmark("polymath-low")]
    languages = sorted({lang for b in benchmarks for lang in b.languages})
    print(
        "| lang | "
        + " | ".join(f"{b.name} polyglot | {b.name} raw fastText" for b in benchmarks)
        + " |"
    )
    print("|---" * (1 + 2 * len(benchmarks)) + "|")
    for lang in languages:
        cells = []
        for bench in benchmarks:
            if lang not in bench.languages:
                cells += ["–", "–"]
                continue
            questions = [ex.question for ex in bench.for_language(lang)]
            ours = sum(detect_language(q).lang == lang for q in questions) / len(questions)
            raw = sum(fasttext_scores(q, k=1)[0][0] == lang for q in questions) / len(questions)
            flag = "" if ours >= 0.97 else " ✗"
            cells += [f"{ours:.1%}{flag}", f"{raw:.1%}"]
        print(f"| {lang} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
