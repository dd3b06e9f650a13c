"""Upcasters of the contracts: v1 bodies of the events that gained an aggregate version in v2 (StudentRegistered
included: its v1 was re-sent for every correction, unversioned); v2 bodies of
PaymentRequestBlocked (v3, v4 and v5 widen its reasons); v1 bodies of SchoolingChanged (v2 widens `changed`); v2
bodies of PaymentRequestStateChanged (v3 adds the RIB frozen on the request, null in a v2 body).

A v1 message had no version: it becomes version 0, "older than any versioned event". A consumer holding
a versioned state drops it as stale; one holding only version-0 state applies it as before (the last one
read wins), so a stream written before the upgrade is still followed during a rolling deploy.
"""

from __future__ import annotations

from typing import Any

from .registry import Registry

# The events whose aggregate state is nested (PfmpState) and those that carry it flat.
NESTED_PFMP = ("PfmpRecorded", "PfmpValidated", "PfmpRectified")
FLAT = ("StudentRegistered", "SchoolingOpened", "RibRecorded", "PaymentRequested", "PaymentRequestBlocked", "PaymentRequestSent",
        "PaymentRequestStateChanged")


def flat_v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    return {**body, "schema_version": 2, "version": 0}


def pfmp_v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    pfmp = body.get("pfmp")
    if not isinstance(pfmp, dict):
        return {**body, "schema_version": 2}  # the model names the broken field (schema_violation)
    return {**body, "schema_version": 2, "pfmp": {**pfmp, "version": 0}}


def blocked_v2_to_v3(body: dict[str, Any]) -> dict[str, Any]:
    """PaymentRequestBlocked v3 only widens the reasons: a v2 body is a v3 body."""
    return {**body, "schema_version": 3}


def blocked_v3_to_v4(body: dict[str, Any]) -> dict[str, Any]:
    """PaymentRequestBlocked v4 only widens the reasons (`pfmp_outside_schooling_dates`): a v3 body is a v4 body."""
    return {**body, "schema_version": 4}


def blocked_v4_to_v5(body: dict[str, Any]) -> dict[str, Any]:
    """PaymentRequestBlocked v5 only widens the reasons (`hidden_schooling`): a v4 body is a v5 body."""
    return {**body, "schema_version": 5}


def schooling_changed_v1_to_v2(body: dict[str, Any]) -> dict[str, Any]:
    """SchoolingChanged v2 only widens `changed` (`establishment`): a v1 body is a v2 body, version kept."""
    return {**body, "schema_version": 2}


def state_changed_v2_to_v3(body: dict[str, Any]) -> dict[str, Any]:
    """PaymentRequestStateChanged v3 adds an optional `rib_id`: a v2 body is a v3 body without one (the students
    service then keeps the RIB a PaymentRequestSent named), version kept."""
    return {**body, "schema_version": 3}


def register_upcasters(registry: Registry) -> None:
    for event_type in NESTED_PFMP:
        registry.register_upcaster(event_type, 1, pfmp_v1_to_v2)
    for event_type in FLAT:
        registry.register_upcaster(event_type, 1, flat_v1_to_v2)
    registry.register_upcaster("PaymentRequestBlocked", 2, blocked_v2_to_v3)
    registry.register_upcaster("PaymentRequestBlocked", 3, blocked_v3_to_v4)
    registry.register_upcaster("PaymentRequestBlocked", 4, blocked_v4_to_v5)
    registry.register_upcaster("SchoolingChanged", 1, schooling_changed_v1_to_v2)
    registry.register_upcaster("PaymentRequestStateChanged", 2, state_changed_v2_to_v3)
