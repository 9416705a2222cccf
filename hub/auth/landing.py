"""Where each role lands after signing in (``c.JupyterHub.default_url``): processors in their
workspace, reviewers in the review console, admins and auditors in the administration console, departments on their data-list items,
everyone else on the hub's home page. (Only processors have a workspace to start.)"""

from __future__ import annotations

LANDINGS = {
    "role-processor": None,  # the hub's usual: the user's own server
    "role-reviewer": "/services/review/",
    "role-admin": "/services/admin/",
    "role-auditor": "/services/admin/audit",
    "role-provider": "/services/admin/datalists",
}


def default_url(handler) -> str:
    user = handler.current_user
    groups = {g.name for g in getattr(user, "groups", [])} if user else set()
    for group, url in LANDINGS.items():
        if group in groups:
            return url or f"{handler.hub.base_url}spawn"
    return f"{handler.hub.base_url}home"
