"""SYGNE detail calls: the CPU the students service spends a call, against the former httpx way, in one run.

The fake SYGNE runs in a child process (its CPU is not ours); this process makes `--calls` detail calls with
`--concurrency` in flight, as the detail lane does, twice each way in turn, and prints the CPU (user + system) a
call of each:

- `SygneClient.student`, as the service calls it (aiohttp, authlib's token, retries, the JSON decoded);
- the yardstick: the same call through authlib's httpx OAuth2 client, which made every call until 6 December 2026.

    uv run python bench/http_clients.py --calls 5000 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx2
from aplypro_local.fake_sygne import serve
from aplypro_local.fake_sygne.sample import detail_of, list_entry
from aplypro_local.fake_sygne.state import CLIENT_ID, SECRET, FakeSygneState
from aplypro_students.adapters.sygne.client import SygneClient
from aplypro_students.adapters.sygne.settings import SygneSettings
from authlib.integrations.httpx_client import AsyncOAuth2Client

INES = [f"{n:09d}AA" for n in range(1000)]


def _serve(port: int, ready: Any) -> None:
    """Child process: the fake SYGNE knowing INES, until terminated."""
    state = FakeSygneState()
    for n, ine in enumerate(INES):
        entry = list_entry(ine, f"NOM{n}", "Prénom", "2008-01-01")
        state.details[ine] = detail_of(entry, lines=("12 rue des Tilleuls",))
    with serve(state, port=port):
        ready.set()
        while True:
            time.sleep(3600)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _calls(call: Callable[[str], Awaitable[Any]], calls: int, concurrency: int) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with limit:
            body = await call(INES[n % len(INES)])
            assert body["ine"] == INES[n % len(INES)]

    await asyncio.gather(*(one(n) for n in range(calls)))


async def _ours(settings: SygneSettings, calls: int, concurrency: int) -> float:
    async with SygneClient(settings) as sygne:
        await sygne.student(INES[0])  # the token and a first connection, outside the measure
        started = time.process_time()
        await _calls(sygne.student, calls, concurrency)
        return (time.process_time() - started) / calls


async def _httpx(settings: SygneSettings, calls: int, concurrency: int) -> float:
    async with AsyncOAuth2Client(
            client_id=CLIENT_ID, client_secret=SECRET, token_endpoint=settings.token_url,
            grant_type="client_credentials", base_url=settings.base_url,
            limits=httpx2.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)) as http:
        await http.fetch_token()

        async def student(ine: str) -> Any:
            response = await http.get(f"eleves/{ine}")
            response.raise_for_status()
            return response.json()

        await student(INES[0])
        started = time.process_time()
        await _calls(student, calls, concurrency)
        return (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32, help="calls in flight (the lane's default: 32)")
    args = parser.parse_args()
    port, ready = _free_port(), multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the fake SYGNE did not start")
        root = f"http://127.0.0.1:{port}/"
        settings = SygneSettings.model_validate({"base_url": f"{root}api/", "token_url": f"{root}token",
                                                 "client_id": CLIENT_ID, "secret": SECRET,
                                                 "max_connections": args.concurrency})
        ours, yardstick = [], []
        for _ in range(2):  # in turn, so a change of the machine's load touches both
            yardstick.append(asyncio.run(_httpx(settings, args.calls, args.concurrency)))
            ours.append(asyncio.run(_ours(settings, args.calls, args.concurrency)))
    finally:
        server.terminate()
        server.join(10)
    best_ours, best_httpx = min(ours), min(yardstick)
    print(f"httpx (authlib's OAuth2 client, the former way): {best_httpx * 1e3:.3f} cpu-ms a call "
          f"(runs: {', '.join(f'{t * 1e3:.3f}' for t in yardstick)})")
    print(f"SygneClient.student (aiohttp): {best_ours * 1e3:.3f} cpu-ms a call "
          f"(runs: {', '.join(f'{t * 1e3:.3f}' for t in ours)})")
    print(f"http_clients: calls={args.calls} concurrency={args.concurrency} ours={best_ours * 1e3:.3f}ms "
          f"httpx={best_httpx * 1e3:.3f}ms ratio={best_ours / best_httpx:.2f}")


if __name__ == "__main__":
    main()
