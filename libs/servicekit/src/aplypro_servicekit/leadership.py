"""Relay leadership of one schema: a session advisory lock, a leader epoch, and a heartbeat on the lock.

The lock elects one relay; the epoch (raised at each election) fences a relay that lost the lock without
knowing it, since every lease checks the epoch in its own transaction; the heartbeat makes such a relay
notice within HEARTBEAT_S + HEARTBEAT_TIMEOUT_S and go back to standby.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from typing import Any

import asyncpg
import structlog

from .outbox import notify_channel

log = structlog.get_logger(__name__)

HEARTBEAT_S = 1.0  # how often the leader proves its lock connection is alive
HEARTBEAT_TIMEOUT_S = 2.0  # an answer slower than this counts as a lost lock (a half-open TCP connection)


class NotLeader(RuntimeError):
    """This relay's epoch is no longer the schema's: another relay was elected."""

    code = "relay_not_leader"

    def __init__(self, epoch: int) -> None:
        super().__init__(f"relay epoch {epoch} was superseded")
        self.epoch = epoch


def lock_key(schema: str) -> str:
    return f"relay:{schema}"


class Leadership:
    """The lock connection of an elected relay, and the epoch it was elected with."""

    def __init__(self, pool: asyncpg.Pool, conn: Any, schema: str, epoch: int) -> None:
        self._pool, self._conn, self._schema = pool, conn, schema
        self.epoch = epoch
        self.lost = False

    async def watch(self) -> None:
        """Return as soon as the lock can no longer be proven (the relay must stop publishing)."""
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                current = await self._conn.fetchval("SELECT epoch FROM relay_leader", timeout=HEARTBEAT_TIMEOUT_S)
            except Exception as exc:  # any failure (terminated, timed out, network): the lock is not proven
                log.warning("relay_lock_lost", epoch=self.epoch, error=type(exc).__name__)
                self.lost = True
                return
            if current != self.epoch:  # cannot happen while the lock holds; checked all the same
                log.warning("relay_epoch_superseded", epoch=self.epoch, current=current)
                self.lost = True
                return

    async def release(self) -> None:
        """Unlock (after the drain: the next relay starts where this one stopped) and drop the connection."""
        try:
            if not self.lost:
                await self._conn.execute("SELECT pg_advisory_unlock(hashtext($1))", lock_key(self._schema),
                                         timeout=HEARTBEAT_TIMEOUT_S)
            await self._conn.close(timeout=HEARTBEAT_TIMEOUT_S)  # the session's end also ends the lock
        except Exception:
            self._conn.terminate()
        finally:
            await self._pool.release(self._conn)


async def elect(pool: asyncpg.Pool, schema: str, on_notify: Callable[..., Any]) -> Leadership:
    """Wait for the schema's relay lock, then raise the epoch: this relay leads until the lock is lost."""
    conn = await pool.acquire()
    try:
        await conn.execute("SELECT pg_advisory_lock(hashtext($1))", lock_key(schema))
        # Waits for the lease transactions of a previous leader still running (they share-lock the row).
        epoch = await conn.fetchval(
            "UPDATE relay_leader SET epoch = epoch + 1, holder = $1, backend_pid = pg_backend_pid(), "
            "elected_at = now() RETURNING epoch", f"{socket.gethostname()}/{os.getpid()}")
        await conn.add_listener(notify_channel(schema), on_notify)
    except BaseException:
        conn.terminate()  # a cancelled lock wait may have been granted meanwhile: ending the session frees it
        await pool.release(conn)
        raise
    log.info("relay_elected", epoch=epoch)
    return Leadership(pool, conn, schema, int(epoch))
