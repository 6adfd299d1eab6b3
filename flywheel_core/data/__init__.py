"""Interaction data: reading, column mapping, checks and import of logs; the signal dictionary; the profile."""
