"""How a consumer splits a batch into lanes (`split_in_lanes`): a student's records on every topic in one lane and
in batch order, so two transactions never each miss the other's write of one student; lanes used when they can be."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aplypro_servicekit.consumer import split_in_lanes
from hypothesis import given
from hypothesis import strategies as st


def rec(topic: str, partition: int, key: bytes | None, n: int) -> Any:
    return SimpleNamespace(topic=topic, partition=partition, key=key, offset=n)


def lane_of(lanes: list[list[Any]]) -> dict[int, int]:
    return {id(record): n for n, lane in enumerate(lanes) for record in lane}


def test_a_students_records_on_several_topics_share_a_lane_and_keep_their_order() -> None:
    # Students a, b, c on partitions 2, 1, 0; a's DA, PFMP and schooling in one batch: the split by topic and
    # partition put a's DA in one lane and its PFMP in the other (the calculator lost requests so).
    batch = [rec("documents", 2, b"a", 0), rec("pfmp", 0, b"c", 0), rec("pfmp", 1, b"b", 0),
             rec("pfmp", 2, b"a", 1), rec("students", 0, b"c", 0), rec("students", 1, b"b", 0),
             rec("students", 2, b"a", 2)]
    lanes = split_in_lanes(batch, 2)
    assert len(lanes) == 2
    assert [[(r.topic, r.key) for r in lane] for lane in lanes] == [
        [("documents", b"a"), ("pfmp", b"b"), ("pfmp", b"a"), ("students", b"b"), ("students", b"a")],
        [("pfmp", b"c"), ("students", b"c")]]


def test_a_key_on_two_partition_numbers_joins_them() -> None:
    # A topic with another partition count puts a student elsewhere: its key keeps its records together.
    batch = [rec("students", 0, b"a", 0), rec("exotic", 5, b"a", 0), rec("exotic", 5, b"c", 1),
             rec("students", 1, b"b", 1)]
    lanes = split_in_lanes(batch, 2)
    assert [[r.key for r in lane] for lane in lanes] == [[b"a", b"a", b"c"], [b"b"]]


RECORDS = st.lists(st.tuples(st.sampled_from(["s", "p", "d"]), st.integers(0, 7),
                             st.one_of(st.none(), st.sampled_from([b"k%d" % n for n in range(12)]))),
                   max_size=60)


@given(RECORDS, st.integers(1, 4))
def test_every_record_once_in_order_and_joined_records_in_one_lane(specs: list[tuple[Any, ...]], lanes: int) -> None:
    batch = [rec(topic, partition, key, n) for n, (topic, partition, key) in enumerate(specs)]
    split = split_in_lanes(batch, lanes)
    assert len(split) <= lanes
    assert sorted(id(r) for lane in split for r in lane) == sorted(id(r) for r in batch)  # each once
    for lane in split:
        positions = [batch.index(r) for r in lane]
        assert positions == sorted(positions)  # batch order
    where = lane_of(split)
    for a in batch:
        for b in batch:
            if a.partition == b.partition or (a.key is not None and a.key == b.key):
                assert where[id(a)] == where[id(b)]
    # Two partitions no key joins are in two lanes when there are two.
    if lanes >= 2 and len({where[id(r)] for r in batch}) == 1 and batch:
        keys_by_partition: dict[int, set[bytes]] = {}
        for r in batch:
            keys_by_partition.setdefault(r.partition, set()).update([r.key] if r.key is not None else [])
        partitions = list(keys_by_partition)
        if len(partitions) > 1:  # then every pair of partitions is linked through shared keys
            linked = {partitions[0]}
            while True:
                more = {p for p in partitions if p not in linked
                        and any(keys_by_partition[p] & keys_by_partition[q] for q in linked)}
                if not more:
                    break
                linked |= more
            assert linked == set(partitions)
