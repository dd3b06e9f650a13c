"""Logging follows sys.stderr: a command run under a test runner (its own stderr, closed when it returns)
must not leave the loggers writing into a closed file for everything that runs after it."""

from __future__ import annotations

import io
import sys

import pytest
import structlog
from aplypro_servicekit.logs import configure_logging


def test_logs_go_to_the_current_stderr_after_a_runner_closed_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    saved = structlog.get_config()
    try:
        runner_stderr = io.StringIO()
        monkeypatch.setattr(sys, "stderr", runner_stderr)
        configure_logging("probe", "INFO", json_output=True)
        structlog.get_logger().info("inside_the_command")
        runner_stderr.close()  # the command returned
        later = io.StringIO()
        monkeypatch.setattr(sys, "stderr", later)
        structlog.get_logger().info("after_the_command")  # raised "I/O operation on closed file" before
        assert "after_the_command" in later.getvalue()
    finally:
        structlog.configure(**saved)
