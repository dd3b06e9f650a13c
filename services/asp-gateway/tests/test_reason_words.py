"""Every reason the gateway can give a request has words in the shared catalog (aplypro_contracts.reasons).

The keys are read from the source, so a new `reasons.append("...")`, `CodeError("...")` or `Blocked(..., ("...",))`
without words fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import aplypro_asp_gateway
from aplypro_asp_gateway.domain.errors import RecordBuildError, RecordSchemaError
from aplypro_contracts.reasons import REASONS

SOURCE = Path(aplypro_asp_gateway.__file__).parent
# readiness turns it into unusable_birthplace_country_insee_code (birth) or treats the residence as abroad
TRANSLATED = {"unusable_country_code"}
# The address-correction file's own (domain/rnvp.py): why a PFMP is left out of a correction file, printed by
# `correction-file` in `not_sent`; never a payment request's blocking reason, so not in the shared catalog.
CORRECTION_ONLY = {"rnvp_answer_unusable"}


def _strings(node: ast.AST) -> set[str]:
    return {n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def emitted_keys() -> set[str]:
    keys: set[str] = {RecordBuildError.code, RecordSchemaError.code}  # build.py blocks a record with exc.code
    for path in SOURCE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        keys |= set(re.findall(r"ARRAY\['([a-z_]+)'\]", text))  # reasons written by SQL
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (isinstance(func, ast.Attribute) and func.attr == "append" and isinstance(func.value, ast.Name)
                    and func.value.id == "reasons"):
                keys |= _strings(node.args[0])
            elif isinstance(func, ast.Name) and func.id == "CodeError":
                keys |= _strings(node.args[0])
            elif isinstance(func, ast.Name) and func.id == "Blocked" and len(node.args) > 1:
                keys |= _strings(node.args[1])
    return keys - TRANSLATED - CORRECTION_ONLY


def test_the_scan_finds_the_reasons_of_every_kind() -> None:
    keys = emitted_keys()
    assert {"missing_rib", "malformed_country_code", "numadm_already_sent", "ine_not_found",
            "attributive_decision_cancelled", "sent_after_withdrawal", "record_build_failed"} <= keys


def test_every_gateway_reason_has_words() -> None:
    assert emitted_keys() - set(REASONS) == set()
