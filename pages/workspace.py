"""Workspace: members and roles, new workspaces, and who changed what."""

from __future__ import annotations

import streamlit as st

from flywheel_core.numbers import when
from flywheel_core.workspaces import api as workspaces_api
from ui.context import current, request_workspace, user_errors
from ui.text import md_escape

ctx = current()
st.title(f"Workspace · {md_escape(ctx.workspace.name)}")
st.caption(
    "Each team works in its own workspace and sees nothing of another's. Owners manage members; "
    "editors change loops, data and models; viewers read."
)

left, right = st.columns(2)
with left:
    st.subheader("Members")
    members = workspaces_api.list_people(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor)
    if members:
        st.dataframe(
            [
                {
                    "User": m.username,
                    "Role": m.role,
                    "Since": when(m.since),
                    "Sign-in": "disabled" if m.disabled else "",
                }
                for m in members
            ],
            hide_index=True,
            width="stretch",
        )
    else:
        st.caption("No members recorded.")
    if ctx.role == "owner":
        with st.form("workspace.add_member", clear_on_submit=True):
            username = st.text_input("Username or e-mail", key="workspace.member")
            role = st.selectbox("Role", ["editor", "viewer", "owner"], key="workspace.role")
            if st.form_submit_button("Add or change member"):
                with user_errors():
                    workspaces_api.set_member(
                        ctx.store, workspace_id=ctx.workspace_id, username=username.strip(), role=role, actor=ctx.actor
                    )
                    st.toast(f"{md_escape(username)} is now {role}.")
                    st.rerun()
        others = [m.username for m in members if m.username != ctx.actor]
        if others:
            with st.form("workspace.remove_member"):
                leaving = st.selectbox("Remove a member", others, key="workspace.remove_name")
                if st.form_submit_button("Remove from this workspace"):
                    with user_errors():
                        workspaces_api.remove_member(
                            ctx.store, workspace_id=ctx.workspace_id, username=leaving, actor=ctx.actor
                        )
                        st.toast(f"{md_escape(leaving)} is no longer a member.")
                        st.rerun()
        if others and ctx.store.enforce_roles:
            st.caption(
                "Disabling stops someone signing in and ends their sessions at once; they stay a member. "
                "Only for people whose every workspace you own; for anyone else, ask your administrator."
            )
            chosen = st.selectbox("Sign-in of", others, key="workspace.disable_name")
            enable = next((m.disabled for m in members if m.username == chosen), False)
            if st.button("Enable sign-in" if enable else "Disable sign-in", key="workspace.disable"):
                with user_errors():
                    change = workspaces_api.enable_user if enable else workspaces_api.disable_user
                    change(ctx.store, username=chosen, actor=ctx.actor)
                    st.toast(f"{md_escape(chosen)} can {'sign in again' if enable else 'no longer sign in'}.")
                    st.rerun()

with right:
    st.subheader("New workspace")
    with st.form("workspace.create", clear_on_submit=True):
        name = st.text_input("Name", key="workspace.new_name", placeholder="e.g. Growth team")
        if st.form_submit_button("Create workspace", type="primary"):
            with user_errors():
                created = workspaces_api.create_workspace(ctx.store, name=name, actor=ctx.actor)
                request_workspace(created.name)
                st.rerun()
    st.caption("You become its owner.")

st.subheader("Recent changes")
audit = workspaces_api.list_audit(ctx.store, workspace_id=ctx.workspace_id, actor=ctx.actor, limit=100)
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
