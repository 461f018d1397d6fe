"""Reports: self-contained HTML (no network) rendered with Jinja2 from the results store, and the
leaderboard (HTML, CSV, Markdown) over every run in a database."""

from reports._leaderboard import leaderboards, to_csv, to_markdown, write_leaderboard
from reports._render import render_run_report, write_run_report

__all__ = ["leaderboards", "render_run_report", "to_csv", "to_markdown", "write_leaderboard", "write_run_report"]
