"""Model versions: turns over the log, scoring, recommenders, drift and the model registry."""
