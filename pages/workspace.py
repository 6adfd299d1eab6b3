"""Workspace: members and roles, and who changed what."""

from __future__ import annotations

import streamlit as st

from ui.context import current
from ui.format import when

ctx = current()
st.title(f"Workspace · {ctx.workspace.name}")
st.caption("Each team works in its own workspace and sees nothing of another's.")

st.subheader("Members")
members = ctx.store.list_members(workspace_id=ctx.workspace_id)
if members:
    st.dataframe(
        [{"User": m.username, "Role": m.role, "Since": when(m.created_at)} for m in members],
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("No members recorded.")

st.subheader("Recent changes")
audit = ctx.store.audit(workspace_id=ctx.workspace_id, limit=100)
if audit:
    st.dataframe(
        [
            {
                "When": when(a.at),
                "Who": a.actor,
                "Action": a.action,
                "What": a.entity,
                "Which": a.entity_id,
                "Detail": a.detail,
            }
            for a in audit
        ],
        hide_index=True,
        width="stretch",
    )
else:
    st.caption("Nothing has changed in this workspace yet.")
