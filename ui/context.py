"""The running app's context: settings, the store, the signed-in user and the current workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import streamlit as st

from flywheel_core.exceptions import FlywheelError
from flywheel_core.workspaces import api as workspaces_api
from flywheel_core.workspaces.api import Store, WorkspaceRef
from ui.auth import signed_in_user
from ui.resources import get_settings, get_store
from ui.text import md_escape

# One small style rule for the whole app: metric values sized so stage names and verdicts fit their columns.
_CSS = "<style>[data-testid='stMetricValue']{font-size:1.75rem;}</style>"

WORKSPACE_KEY = "app.workspace"
_REQUEST_KEY = "app.workspace_request"
_PICKER_KEY = "app.workspace_picker"
WORKSPACE_PARAM = "workspace"  # the URL's ?workspace=: a reload or a shared link opens the same workspace


def kept(key: str) -> dict[str, Any]:
    """Keyword arguments that keep a widget's choice in the URL, so a reload or a shared link opens the same view.

    ``st.selectbox("Dataset", names, **kept("train_compare.dataset"))`` (also radio, segmented control,
    multiselect and ``st.tabs``): Streamlit 1.67 binds the widget to the query parameter named by its key
    (``?train_compare.dataset=plays``), restores it on load and drops a value that is not an option (a
    dataset deleted since, another workspace's name), so the widget falls back to its default with no
    error. A bound value can be changed from code only through ``st.session_state[key]``.
    """
    return {"key": key, "bind": "query-params"}


def request_workspace(name: str) -> None:
    """Switch to workspace ``name`` on the next run (the picker widget cannot be changed mid-run)."""
    st.session_state[_REQUEST_KEY] = name


@dataclass(frozen=True)
class AppContext:
    store: Store
    workspace: WorkspaceRef
    actor: str
    role: str

    @property
    def workspace_id(self) -> int:
        return self.workspace.id

    @property
    def can_edit(self) -> bool:
        return self.role in ("editor", "owner")


def current_actor() -> str:
    return str(st.session_state.get("app.actor", "local"))


def _leave_legacy_pages_mode() -> None:
    """Run under app.py's st.navigation, never under Streamlit's legacy ``pages/`` discovery.

    Streamlit remembers process-wide whether an app "uses the pages directory"; until app.py has run
    once, a deep link (or an AppTest rerun) executes the page file on its own with file-name navigation.
    The client's layout needs the folder to be called ``pages/``, so switch the flag off and rerun:
    app.py then routes the same URL to the same page.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        # AppTest resets the flag before every run; a rerun there would swallow the widget event.
        if not config.get_option("global.appTest"):
            st.rerun()


def current() -> AppContext:
    """Sign-in, the sidebar's workspace picker, and this run's context; every page calls it first.

    It lives here rather than in app.py so that a page run on its own (as AppTest does after a
    widget interaction) gets the same sidebar and a fresh context.
    """
    _leave_legacy_pages_mode()
    st.html(_CSS)
    try:
        settings = get_settings()
        if settings.hosted:  # never a traceback or a server path in a user's browser
            st.set_option("client.showErrorDetails", "none")
        actor = signed_in_user(settings)
        if actor is None:
            st.stop()
        store = get_store()
        st.sidebar.markdown("### :material/cyclone: Flywheel Studio")
        context = select_workspace(store, actor)
    except FlywheelError as error:
        st.error(md_escape(str(error)), icon=":material/error:")
        st.stop()
    if context is None:
        st.stop()
    st.sidebar.caption(f"Signed in as **{md_escape(context.actor)}** · role **{context.role}**")
    return context


def select_workspace(store: Store, actor: str) -> AppContext | None:
    """Sidebar workspace picker; creates the default workspace on a fresh install."""
    workspaces = workspaces_api.list_workspaces(store, actor=actor)
    if not workspaces and not store.enforce_roles:
        workspaces_api.ensure_workspace(store, name=store.settings.default_workspace, actor=actor)
        workspaces = workspaces_api.list_workspaces(store, actor=actor)
    if not workspaces:
        st.sidebar.info("You are not a member of any workspace yet. Ask an owner to add you.")
        return None
    names = [w.name for w in workspaces]
    # The choice lives in a plain session key: widget state made in a page script is dropped when the
    # user moves to another page, and the workspace must follow them.
    requested = st.session_state.pop(_REQUEST_KEY, None)
    if WORKSPACE_KEY not in st.session_state and requested is None:  # a new session: the link's workspace
        requested = st.query_params.get(WORKSPACE_PARAM)
    if requested in names:
        st.session_state[WORKSPACE_KEY] = requested
        st.session_state[_PICKER_KEY] = requested
    if st.session_state.get(WORKSPACE_KEY) not in names:
        st.session_state[WORKSPACE_KEY] = names[0]
    chosen = st.session_state[WORKSPACE_KEY]
    # The picker reads its value from its key only (no index=): a default beside a value set through
    # session state makes Streamlit log a warning with a stack trace.
    if st.session_state.get(_PICKER_KEY) != chosen:
        st.session_state[_PICKER_KEY] = chosen

    def remember() -> None:
        st.session_state[WORKSPACE_KEY] = st.session_state[_PICKER_KEY]

    name = st.sidebar.selectbox(
        "Workspace",
        names,
        key=_PICKER_KEY,
        on_change=remember,
        help="Everything you see and save belongs to this workspace.",
    )
    workspace = next(w for w in workspaces if w.name == name)
    if st.query_params.get(WORKSPACE_PARAM) != name:
        st.query_params[WORKSPACE_PARAM] = name
    role = workspaces_api.role_of(store, workspace_id=workspace.id, actor=actor) or "viewer"
    return AppContext(store=store, workspace=workspace, actor=actor, role=role)


def show_error(error: FlywheelError) -> None:
    st.error(md_escape(str(error)), icon=":material/error:")  # messages quote names users typed
    problems = getattr(error, "problems", None)
    if problems and len(problems) > 1:
        with st.expander(f"All {len(problems)} problems"):
            for problem in problems:
                st.markdown(
                    f"- {md_escape(problem.describe())}" + (f" — {problem.count:,} rows" if problem.count > 1 else "")
                )


@contextmanager
def user_errors() -> Iterator[None]:
    """Show a FlywheelError as an error box; anything else is a bug and surfaces."""
    try:
        yield
    except FlywheelError as error:
        show_error(error)
