"""The seeds' experiments measured on a team's own log (curation, capture, deletion, weighting, ...)."""
