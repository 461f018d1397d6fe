"""Reports: self-contained HTML (no network) rendered with Jinja2 from the results store."""

from reports._render import render_run_report, write_run_report

__all__ = ["render_run_report", "write_run_report"]
