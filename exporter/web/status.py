"""What the landing page shows of each workspace, read from the exporter's state."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from exporter.state import ExporterState, WorkspaceState


@dataclass(frozen=True)
class WorkspaceStatus:
    """One workspace as the landing page shows it; times are unix seconds.

    ``agents`` lists who is logged in, sorted, or is None where per-agent series are off
    (``metrics.per_agent: false``), so the page shows no name that ``/metrics`` hides.
    """

    name: str
    up: bool
    ready: bool
    reason: str
    logged_in: int
    last_success: float | None = None
    newest_record: float | None = None
    agents: tuple[str, ...] | None = None


def workspace_status(state: ExporterState, agent_names: bool = True) -> list[WorkspaceStatus]:
    """Each workspace's status, read under its lock so that it never shows half a poll."""
    return [_status(workspace, agent_names) for workspace in state.workspaces()]


def _status(workspace: WorkspaceState, agent_names: bool) -> WorkspaceStatus:
    with workspace.lock:
        health, sessions = workspace.health, workspace.sessions
        names = [n for n, a in sessions.agents.items() if a.logged_in] if agent_names else None
        status = WorkspaceStatus(
            name=workspace.name,
            up=health.up,
            ready=health.ready,
            reason=health.reason,
            logged_in=sessions.logged_in_count,
            last_success=health.last_success,
            newest_record=sessions.last_record,
        )
    return status if names is None else dataclasses.replace(status, agents=tuple(sorted(names)))
