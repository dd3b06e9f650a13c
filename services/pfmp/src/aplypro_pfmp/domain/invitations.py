"""Invitations (features.md §1): a director of an establishment invites staff by e-mail, the national admin
invites academic users to an academy; an identity whose e-mail carries a live invitation is authorised staff
there, or reads that academy, from its next login. Pure rules, no I/O."""

from __future__ import annotations

import re

# What a mailbox looks like, no more: the identity provider proves the address at login.
_EMAIL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
MAX_EMAIL = 254
# An academy code as AplyproAcademieResp carries it ("14", "A11"); never `*`: national admin comes from the
# identity's claims only, no invitation grants it.
_ACADEMY = re.compile(r"^[0-9A-Z]{2,3}$")


class InvitationError(ValueError):
    """A refused invitation or revocation; `code` is stable, the message never holds the address."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def normalise_email(value: str) -> str:
    """The address as stored and compared: trimmed, lower-case; refused when it is not one."""
    email = value.strip().lower()
    if not email or len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvitationError("invalid_email", "not an e-mail address")
    return email


def academy_code(value: str) -> str:
    """The academy code as stored and compared: trimmed, upper-case; refused when it is not one (or `*`)."""
    code = value.strip().upper()
    if not _ACADEMY.match(code):
        raise InvitationError("invalid_academy", "not an academy code")
    return code
