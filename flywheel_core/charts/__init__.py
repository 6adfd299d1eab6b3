"""Every figure the app and the workspace report draw, in one palette.

``palette`` holds the colours (signal classes, active users, one per verdict); ``data``, ``curves``,
``train`` and ``loops`` build plotly figures from the core's result objects, one module per subject.
plotly is imported inside the builders, so importing this package stays cheap; it never imports streamlit.
"""
