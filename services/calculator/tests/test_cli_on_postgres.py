"""`explain`, `status` and `release-parked` on the real PostgreSQL, through the command line."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date
from decimal import Decimal

import pytest
from aplypro_calculator.entrypoints.cli import app
from typer.testing import CliRunner

from .calculator_world import PREMIERE, UAI, Calc

pytestmark = pytest.mark.integration


async def run_cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    # The CLI runs its own event loop: off this test's loop, in a thread.
    result = await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)
    return result.exit_code, result.output


async def test_explain_prints_inputs_bareme_pool_steps_and_requests(calc: Calc, cli_env: dict[str, str]) -> None:
    # Cap 600 € at 15 €/day: A (September) 30 days paid 450 €, B (October) 20 days gets the 150 € left.
    schooling = await calc.schooling(mef=PREMIERE)
    a = await calc.validate(calc.pfmp(schooling, 30, start=date(2025, 9, 1), length=35))  # ends before B starts
    await calc.pay(a, Decimal("450.00"))
    b = await calc.validate(calc.pfmp(schooling, 20, start=date(2025, 10, 6), length=28))

    code, out = await run_cli(cli_env, "explain", str(b.pfmp_id))
    assert code == 0, out
    lines = out.splitlines()
    for expected in [
        f"PFMP {b.pfmp_id}",
        "  status: validated",
        "  dates: 2025-10-06 to 2025-11-02 (28 calendar days)",
        "  day count: 20",
        f"  schooling: {schooling.schooling_id} at {UAI}, school year 2025-2026",
        "  excluded schooling: no",
        "  daily rate: 15 €",
        "  yearly cap: 600 €",
        "  cap 600 €, committed 600 €, total 600 €, left 0 €, cap reached: yes, over cap: no",
        "amount: 150 €",
        "  - 20 days × 15 € = 300 €",
        "  - cap left before it: 150 € of 600 €",
        "  - amount: 150 € (capped)",
    ]:
        assert expected in lines, expected
    assert any(line.startswith("  legal reference: ") and "arrêté" in line for line in lines)
    assert any(line.startswith("  MEF: 2473121132") for line in lines)
    # The pool in allocation order: both committed, B marked.
    assert any(line.startswith(f"  committed  {a.pfmp_id}") and "450 € request paid" in line for line in lines)
    assert any(line.startswith(f"  committed  {b.pfmp_id}") and line.endswith("<- this PFMP") for line in lines)
    assert any(line.endswith("payment; ready; 150 €") for line in lines)

    code, out = await run_cli(cli_env, "explain", str(a.pfmp_id))
    assert "payment; paid; 450 €; MTNET 450.00" in out

    code, out = await run_cli(cli_env, "explain", str(uuid.uuid4()))
    assert code == 1


async def test_status_and_release_parked_report_on_the_requests(calc: Calc, cli_env: dict[str, str]) -> None:
    schooling = await calc.schooling(mef=PREMIERE)
    pfmp = await calc.validate(calc.pfmp(schooling, 3))
    await calc.pay(pfmp)
    await calc.feed(calc.rectified(pfmp, 0, by="system"))

    code, out = await run_cli(cli_env, "status")
    assert code == 0, out
    assert json.loads(out)["requests_by_state"] == {"paid": 1, "pending": 1}

    code, out = await run_cli(cli_env, "release-parked")
    assert (code, out.splitlines()[-1]) == (
        0, "pools re-evaluated: 1; events written: 0; still parked or blocked by negative_rectification: 1")

    switched_on = {**cli_env, "APLYPRO_CALCULATOR_NEGATIVE_RECTIFICATIONS_ENABLED": "true"}
    code, out = await run_cli(switched_on, "release-parked")
    assert (code, out.splitlines()[-1]) == (
        0, "pools re-evaluated: 1; events written: 1; still parked or blocked by negative_rectification: 0")
    assert [r["state"] for r in await calc.requests(pfmp.pfmp_id)] == ["paid", "ready"]
    assert await calc.db.fetchval("SELECT count(*) FROM outbox WHERE headers->>'event-type' = 'PaymentRequested'") == 2
