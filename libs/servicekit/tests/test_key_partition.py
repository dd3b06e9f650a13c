"""The relay's murmur2 is Kafka's: the same partition as aiokafka's default partitioner for any key."""

from __future__ import annotations

import random

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from aplypro_servicekit.key_partition import key_partition, murmur2


def test_murmur2_is_aiokafkas_for_keys_of_every_length() -> None:
    rng = random.Random(7)
    for _ in range(5000):
        key = rng.randbytes(rng.randrange(0, 70))  # every remainder of the 4-byte words, the empty key too
        assert murmur2(key) == aiokafka_murmur2(key), key


def test_key_partition_is_the_default_partitioners() -> None:
    rng = random.Random(11)
    for count in (1, 3, 4, 12):
        partitions = list(range(count))
        for _ in range(500):
            key = rng.randbytes(36)
            assert key_partition(key, partitions) == DefaultPartitioner()(key, partitions, partitions)
