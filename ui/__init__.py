"""Streamlit-side helpers: cached resources, the workspace context, shared widgets and charts."""
