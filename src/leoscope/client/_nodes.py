"""Nodes, heartbeats, scavenger mode, and the node-to-node task RPCs."""

from __future__ import annotations

from datetime import datetime

from leoscope.api import convert
from leoscope.api import leotest_pb2 as pb
from leoscope.core.errors import NotFound
from leoscope.core.model import Node, Task, TaskStatus, TaskType
from leoscope.core.timeutil import iso_z

from ._base import Base
from ._convert import node_from_pb, token_from_message
from ._errors import Subject
from ._results import RegisteredNode

NODE_MISSING = "node with given id does not exist"


class NodesAPI(Base):
    def register_node(
        self,
        nodeid: str,
        *,
        coords: str,
        name: str = "",
        description: str = "",
        location: str = "",
        provider: str = "",
        altitude_m: float | None = None,
        min_elevation_deg: float | None = None,
        quiet_hours: str | None = None,
    ) -> RegisteredNode:
        """Register a measurement node (admins only); its token is shown only this once.

        `coords` is "<lat>,<lon>" in decimal degrees. `quiet_hours` is "<cron>@<minutes>"
        windows joined by ';' during which the node is in scavenger mode.
        """
        msg = pb._node(
            nodeid=nodeid,
            name=name,
            description=description,
            coords=coords,
            location=location,
            provider=provider,
        )
        if altitude_m is not None:
            msg.altitude_m = altitude_m
        if min_elevation_deg is not None:
            msg.min_elevation_deg = min_elevation_deg
        if quiet_hours is not None:
            msg.quiet_hours = quiet_hours
        response = self._write(
            "register_node", pb.message_register_node(node=msg), Subject("node", nodeid)
        )
        node = node_from_pb(msg)
        return RegisteredNode(node, token_from_message(response.message))

    def get_node(self, nodeid: str) -> Node:
        """One node. Raises NotFound."""
        found = self.list_nodes(nodeid=nodeid)
        if not found:
            raise NotFound("node", nodeid, NODE_MISSING)
        return found[0]

    def list_nodes(
        self,
        *,
        active: bool = False,
        active_within_secs: int | None = None,
        location: str | None = None,
        provider: str | None = None,
        name: str | None = None,
        nodeid: str | None = None,
    ) -> list[Node]:
        """Nodes matching every given filter (exact matches).

        `active=True` keeps nodes heard from within `active_within_secs` (default 600 s).
        """
        request = pb.message_get_nodes(active=active)
        for key, value in (
            ("nodeid", nodeid),
            ("location", location),
            ("provider", provider),
            ("name", name),
            ("activeThres", active_within_secs),
        ):
            if value is not None:
                setattr(request, key, value)
        response = self._read("get_nodes", request)
        return [node_from_pb(n) for n in response.nodes]

    def update_node(
        self,
        nodeid: str,
        *,
        name: str | None = None,
        description: str | None = None,
        coords: str | None = None,
        location: str | None = None,
        provider: str | None = None,
        public_ip: str | None = None,
        altitude_m: float | None = None,
        min_elevation_deg: float | None = None,
        quiet_hours: str | None = None,
        last_active: datetime | None = None,
    ) -> None:
        """Change the given fields (admins, or the node itself). `quiet_hours=""` clears them.

        Raises NotFound, InvalidInput (naming the field), PermissionDenied.
        """
        request = pb.message_update_node(nodeid=nodeid)
        changes = {
            "name": name,
            "description": description,
            "coords": coords,
            "location": location,
            "provider": provider,
            "public_ip": public_ip,
            "altitude_m": altitude_m,
            "min_elevation_deg": min_elevation_deg,
            "quiet_hours": quiet_hours,
            "last_active": iso_z(last_active) if last_active is not None else None,
        }
        for key, value in changes.items():
            if value is not None:
                setattr(request, key, value)
        self._write("update_node", request, Subject("node", nodeid))

    def delete_node(self, nodeid: str, *, delete_jobs: bool = False) -> None:
        """Delete a node and revoke its token (admins only); optionally its jobs too."""
        request = pb.message_delete_node(nodeid=nodeid, deleteJobs=delete_jobs)
        self._write("delete_node", request, Subject("node", nodeid))

    def heartbeat(self, nodeid: str) -> bool:
        """Report that node `nodeid` (the caller) is alive; False if it was not recorded."""
        response = self._write("report_heartbeat", pb.message_heartbeat(nodeid=nodeid))
        return bool(response.received)

    def set_scavenger(self, nodeid: str, active: bool) -> None:
        """Turn scavenger mode on or off (admins, or the node itself)."""
        request = pb.message_set_scavenger_status(nodeid=nodeid, scavenger_mode_active=active)
        self._write("set_scavenger_status", request, Subject("node", nodeid))

    def get_scavenger(self, nodeid: str) -> bool:
        """Whether scavenger mode is on (admins, or the node itself).

        Other callers can read the flag through `get_node(nodeid).scavenger_mode_active`.
        """
        response = self._read(
            "get_scavenger_status",
            pb.message_get_scavenger_status(nodeid=nodeid),
            Subject("node", nodeid),
        )
        return bool(response.scavenger_mode_active)

    # ------------------------------------------------------------------ tasks (node software)
    def schedule_task(self, task: Task) -> None:
        """Ask a job's server node to start or stop its side (the job's client node calls)."""
        request = pb.message_schedule_task(task=convert.task_to_pb(task))
        self._write("schedule_task", request, Subject("task", task.taskid))

    def list_tasks(
        self,
        *,
        type: TaskType | None = None,
        taskid: str | None = None,
        runid: str | None = None,
        jobid: str | None = None,
        nodeid: str | None = None,
        status: TaskStatus | None = None,
    ) -> list[Task]:
        """Live tasks matching the filters (admins: all; nodes: their own)."""
        request = pb.message_get_tasks()
        for key, value in (("taskid", taskid), ("runid", runid), ("jobid", jobid)):
            if value is not None:
                setattr(request, key, value)
        if nodeid is not None:
            request.nodeid = nodeid
        if type is not None:
            request.type = pb.task_type.Value(type.name)
        if status is not None:
            request.status = pb.task_status.Value(status.name)
        response = self._read("get_tasks", request)
        return [convert.task_from_pb(t) for t in response.tasks]

    def update_task(self, taskid: str, status: TaskStatus) -> None:
        """Mark a task scheduled or complete (the node the task is for)."""
        request = pb.message_update_task(taskid=taskid, status=pb.task_status.Value(status.name))
        self._write("update_task", request, Subject("task", taskid))
