"""Messages each consumer read, per student: every consumed message leaves one inbox row in its service's schema.

The national run's CPU follows the messages its consumers read (each one parsed, claimed in the inbox, folded
and committed), so this line shows what a change to the events themselves saved, whatever the machine's load.
"""

from __future__ import annotations

import asyncpg

SERVICES = ("students", "pfmp", "calculator", "documents", "asp_gateway")


async def consumed(url: str, schema_prefix: str) -> dict[str, int]:
    """`service consumer` → messages it processed (dead-lettered ones included)."""
    conn = await asyncpg.connect(url)
    try:
        counts: dict[str, int] = {}
        for service in SERVICES:
            try:
                rows = await conn.fetch(f'SELECT consumer, count(*) AS n FROM "{schema_prefix}{service}".'
                                        "processed_messages GROUP BY consumer ORDER BY consumer")
            except (asyncpg.UndefinedTableError, asyncpg.InvalidSchemaNameError):
                continue
            counts.update({f"{service} {r['consumer']}": int(r["n"]) for r in rows})
        return counts
    finally:
        await conn.close()


def per_student_line(counts: dict[str, int], students: int) -> str:
    """One line: the total a student, then each consumer's share, largest first."""
    total = sum(counts.values())
    parts = " ".join(f"{name.replace(' ', ':')}={n / students:.1f}"
                     for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"consumed per student: total={total / students:.1f} {parts}"
