"""`explain` and `status` say, for each payment request, what blocks it and what to do, in the words of the
shared catalog (aplypro_contracts.reasons); a request waiting for its cool-down is never silent."""

from __future__ import annotations

import json

import pytest
from aplypro_contracts import PaymentRequestHeld
from aplypro_contracts.reasons import describe

from .calculator_world import Calc
from .test_cli_on_postgres import run_cli

pytestmark = pytest.mark.integration


async def test_explain_and_status_give_each_reason_in_words(calc: Calc, cli_env: dict[str, str]) -> None:
    # No DA for the schooling, and a second PFMP on the same days: two reasons at once.
    schooling = await calc.schooling(with_decision=False)
    first = await calc.validate(calc.pfmp(schooling, 10))
    await calc.validate(calc.pfmp(schooling, 10))

    code, out = await run_cli(cli_env, "explain", str(first.pfmp_id))
    assert code == 0, out
    for key in ("overlaps", "missing_attributive_decision"):
        assert f"      {describe(key).line()}" in out.splitlines(), key
    assert "What to do: generate the DA." in out

    code, out = await run_cli(cli_env, "status")
    assert code == 0, out
    blocked = json.loads(out)["blocked_by_reason"]
    assert blocked["missing_attributive_decision"] == {
        "requests": 2, "blocks": "the schooling has no décision d'attribution (DA)", "todo": "generate the DA",
        "parking": False}
    assert blocked["overlaps"]["requests"] == 2


async def test_a_request_in_its_cool_down_shows_it_is_awaiting_evaluation(
        nightly: Calc, cli_env: dict[str, str]) -> None:
    schooling = await nightly.schooling()
    pfmp = await nightly.validate(nightly.pfmp(schooling, 10))

    code, out = await run_cli(cli_env, "explain", str(pfmp.pfmp_id))
    assert code == 0, out
    assert f"      {describe('awaiting_evaluation').line()}" in out.splitlines()
    code, out = await run_cli(cli_env, "status")
    assert json.loads(out)["blocked_by_reason"]["awaiting_evaluation"]["requests"] == 1


async def test_the_gateways_reasons_for_a_ready_request_show_too(calc: Calc, cli_env: dict[str, str]) -> None:
    schooling = await calc.schooling()
    pfmp = await calc.validate(calc.pfmp(schooling, 10))
    [request] = await calc.requests(pfmp.pfmp_id)
    assert request["state"] == "ready"

    def held(version: int, *reasons: str) -> PaymentRequestHeld:
        return PaymentRequestHeld(producer="asp-gateway", payment_request_id=request["payment_request_id"],
                                  pfmp_id=pfmp.pfmp_id, student_id=pfmp.student_id, reasons=reasons,
                                  version=version)

    # The gateway holds it back; an older hold read late changes nothing.
    await calc.feed(held(2, "ine_not_found"))
    await calc.feed(held(1, "missing_rib"))
    [after] = await calc.requests(pfmp.pfmp_id)
    assert (after["state"], after["amount_cents"]) == ("ready", request["amount_cents"])  # shown only

    code, out = await run_cli(cli_env, "explain", str(pfmp.pfmp_id))
    assert code == 0, out
    assert "held by the asp-gateway: ine_not_found" in out
    assert f"      {describe('ine_not_found').line()}" in out.splitlines()
    assert "missing_rib" not in out
    code, out = await run_cli(cli_env, "status")
    assert json.loads(out)["blocked_by_reason"]["ine_not_found"]["requests"] == 1
