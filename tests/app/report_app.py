"""A tiny page for AppTest: the report downloads of the current workspace."""

from ui.context import current
from ui.report_widgets import render_report_downloads

render_report_downloads(current())
