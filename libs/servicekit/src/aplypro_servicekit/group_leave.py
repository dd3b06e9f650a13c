"""Whether a stopping consumer tells the broker it leaves its group (LeaveGroup), or just goes quiet.

The embedded broker (Tansu 0.6.0) breaks a consumer group for good when its leader leaves during a
rebalance: `leave` in the "forming" state removes the member but keeps it as the group's leader
(tansu-broker/src/coordinator/group/administrator.rs). Every later member is told to wait for that
leader's assignment, which never comes: nothing is consumed again, whatever restarts. It takes no
more than two members stopped one after the other (a rolling restart, a scale-down, a deploy).

A member that simply stops heartbeating is removed when its session times out, and that path does
clear the leader. So by default our consumers stop without LeaveGroup: a clean stop costs one session
timeout (APLYPRO_SESSION_TIMEOUT_MS) before its partitions move to the others, nothing else. On
Apache Kafka, APLYPRO_KAFKA_LEAVE_GROUP=true brings the usual immediate hand-over back.
"""

from __future__ import annotations

from aiokafka.consumer.group_coordinator import GroupCoordinator

_SEND_LEAVE_GROUP = GroupCoordinator._maybe_leave_group


async def _go_quiet(self: GroupCoordinator) -> None:
    # What aiokafka does after its LeaveGroup, without sending it: forget the generation and member id.
    self.reset_generation()


def set_leave_group(enabled: bool) -> None:
    """Choose, for every consumer of this process, whether stopping sends LeaveGroup."""
    GroupCoordinator._maybe_leave_group = _SEND_LEAVE_GROUP if enabled else _go_quiet
