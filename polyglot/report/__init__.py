"""Reports: one layer for every page polyglot writes (eval runs, comparisons, the quickstart,
and the pages the methods add), HTML and Markdown from jinja2 templates, with inline SVG charts
(``charts.py``) that need no scripts and open offline."""

from polyglot.report.pages import comparison_page, eval_run_page, quickstart_page, render

__all__ = ["comparison_page", "eval_run_page", "quickstart_page", "render"]
