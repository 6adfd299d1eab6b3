"""The workspace report: its contents, and its HTML and Markdown renderings."""
