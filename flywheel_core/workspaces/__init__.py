"""Workspaces and people: opening the instance, sign-in, membership, the audit trail."""
