"""Compounding versus plateau: candidate fits, the verdict, forecasts and the series it reads."""
