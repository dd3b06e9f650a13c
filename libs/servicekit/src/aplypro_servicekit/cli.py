"""Helpers every service CLI shares: run the service process with logging configured."""

from __future__ import annotations

import asyncio

from .logs import configure_logging
from .runtime import ServiceRuntime, ServiceSpec
from .settings import ServiceSettings


def run_service(spec: ServiceSpec, settings: ServiceSettings) -> None:
    configure_logging(spec.name, settings.log_level, settings.log_json)
    asyncio.run(ServiceRuntime(spec, settings).run_until_signalled())
