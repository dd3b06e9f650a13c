"""A fake ASP SFTP server for tests, the demo and `aplypro up` (asp-exchange.md §10)."""

from aplypro_local.fake_asp.behaviour import REJECT_REASONS, Behaviour, Faults, well_formed
from aplypro_local.fake_asp.keys import KeyFiles, generate_keys, write_known_hosts
from aplypro_local.fake_asp.options import AnswerOptions, PaymentOptions
from aplypro_local.fake_asp.pickup import Violation
from aplypro_local.fake_asp.server import FakeAsp

__all__ = ["REJECT_REASONS", "AnswerOptions", "Behaviour", "FakeAsp", "Faults", "KeyFiles", "PaymentOptions",
           "Violation", "generate_keys", "well_formed", "write_known_hosts"]
