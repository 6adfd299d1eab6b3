"""Persistence: the only package that talks to the database or writes the data folder."""
