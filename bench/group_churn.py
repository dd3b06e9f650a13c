"""Consumer-group churn on the embedded broker: do restarted members still get their partitions?

Not a speed benchmark: the reproduction of the drills' stall (README "Open points", group_leave.py).
Four member processes of one group (two "instances" of two consumers each, like the drill) are
SIGKILLed or rolling-restarted at random for --seconds; killed members come back. Then churn stops and
every live member must get its partitions within --settle seconds.

    uv run python bench/group_churn.py --seed 1                 # our setting: stop without LeaveGroup
    uv run python bench/group_churn.py --seed 1 --leave-group   # aiokafka's default: LeaveGroup on stop

The last line is `members_started=<n>/4 stuck_reports=<n>` (a member waiting over 60 s during churn
is one stuck report).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

TOPICS = ("churn-1", "churn-2")
SLOTS = ("a0", "a1", "b0", "b1")  # instance a and b, two consumer processes each
STUCK_S = 60


async def _member(bootstrap: str, leave_group: bool) -> None:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.coordinator.assignors.range import RangePartitionAssignor
    from aplypro_servicekit.group_leave import set_leave_group

    set_leave_group(leave_group)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    consumer = AIOKafkaConsumer(*TOPICS, bootstrap_servers=bootstrap, group_id="churn", enable_auto_commit=False,
                                session_timeout_ms=10_000, heartbeat_interval_ms=2_000,
                                partition_assignment_strategy=(RangePartitionAssignor,))
    await consumer.start()  # returns once the member has its assignment
    print("started", flush=True)
    while not stop.is_set():
        await consumer.getmany(timeout_ms=200)
    await consumer.stop()


@dataclass
class Member:
    process: subprocess.Popen[str]
    spawned: float = field(default_factory=time.monotonic)
    started: bool = False

    def watch(self) -> None:
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.started = self.started or line.startswith("started")
        threading.Thread(target=read, daemon=True).start()


class Group:
    def __init__(self, bootstrap: str, leave_group: bool) -> None:
        self.bootstrap, self.leave_group = bootstrap, leave_group
        self.members: dict[str, Member] = {}

    def start(self, slot: str) -> None:
        args = [sys.executable, __file__, "--member", self.bootstrap] + (["--leave-group"] if self.leave_group else [])
        member = Member(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        member.watch()
        self.members[slot] = member

    def revive(self) -> None:
        for slot, member in list(self.members.items()):
            if member.process.poll() is not None:
                self.start(slot)

    def rolling_restart(self, instance: str) -> None:
        for slot in (f"{instance}0", f"{instance}1"):
            process = self.members[slot].process
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for slot in (f"{instance}0", f"{instance}1"):
            self.start(slot)

    def kill(self, slot: str) -> None:
        self.members[slot].process.kill()
        self.members[slot].process.wait()

    def stuck(self) -> int:
        now = time.monotonic()
        return sum(1 for m in self.members.values()
                   if m.process.poll() is None and not m.started and now - m.spawned > STUCK_S)

    def stop(self) -> None:
        for member in self.members.values():
            member.process.kill()


async def _topics(bootstrap: str) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(t, 8, 1) for t in TOPICS])
    finally:
        await admin.close()


def drive(seed: int, seconds: float, settle: float, leave_group: bool) -> None:
    from aplypro_local.embedded import EmbeddedKafka

    kafka = EmbeddedKafka.start()
    group = Group(kafka.bootstrap, leave_group)
    try:
        asyncio.run(_topics(kafka.bootstrap))
        rng = random.Random(seed)  # choosing victims, not security
        for slot in SLOTS:
            group.start(slot)
        stuck_reports, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(rng.uniform(0.5, 3))
            group.revive()
            if rng.random() < 0.3:
                group.rolling_restart(rng.choice("ab"))
            else:
                group.kill(rng.choice(SLOTS))
            stuck_reports += group.stuck()
        group.revive()
        deadline = time.monotonic() + settle
        while time.monotonic() < deadline and not all(m.started for m in group.members.values()):
            time.sleep(1)
        started = sum(m.started for m in group.members.values())
        print(f"members_started={started}/{len(SLOTS)} stuck_reports={stuck_reports}")
    finally:
        group.stop()
        kafka.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=240, help="how long the churn lasts")
    parser.add_argument("--settle", type=float, default=120, help="how long members may take to start after it")
    parser.add_argument("--leave-group", action="store_true", help="send LeaveGroup on stop (aiokafka's default)")
    parser.add_argument("--member", metavar="BOOTSTRAP", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.member:
        asyncio.run(_member(args.member, args.leave_group))
    else:
        drive(args.seed, args.seconds, args.settle, args.leave_group)


if __name__ == "__main__":
    main()
