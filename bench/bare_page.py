"""The bare reference page of bench_pages: Streamlit + Polars drawing the Explore page's first chart.

    streamlit run bench/bare_page.py -- EVENTS.parquet

Reads the Parquet file on every run (no cache, no database, no aggregates kept), counts the events per
period and event name (by day up to 120 days of data, else by week, as the product does) and draws them as
the same stacked-area plotly chart.
"""

from __future__ import annotations

import sys

import plotly.express as px
import polars as pl
import streamlit as st

st.set_page_config(page_title="Bare page", layout="wide")
st.title("Bare Streamlit + Polars page")
events = pl.scan_parquet(sys.argv[1])
first, last = (
    events.select(pl.col("timestamp").min().alias("first"), pl.col("timestamp").max().alias("last")).collect().row(0)
)
every = "1d" if (last - first).days <= 120 else "1w"
counts = (
    events.group_by(pl.col("timestamp").dt.truncate(every).alias("period"), pl.col("event").cast(pl.String))
    .agg(pl.len().alias("events"))
    .sort("period", "event")
    .collect()
)
left, right = st.columns([2, 1])
fig = px.area(counts.to_pandas(), x="period", y="events", color="event", title="Events by signal")
left.plotly_chart(fig, width="stretch")
right.metric("Events", f"{int(counts['events'].sum()):,}")
