"""The fake ASP as a real asyncssh SFTP server (asp-exchange.md §10), with a Python control API.

Runs inside a test's event loop (`async with FakeAsp(...) as fake`) or alone (`python -m
aplypro_local.fake_asp`). Clients log in with a key listed in `authorized_keys` (or the behaviour's
password), see the root folder with its drop and read folders (`depot`, `retour`), and may list, stat,
read, write, rename and remove. A file arriving in the drop folder under a payment-file name (by rename,
or written directly) counts as one upload (`uploads[name]`) and is taken by the desk (pickup.py), which
answers with an integrations and a rejects CSV in the read folder (returns.py). Faults: behaviour.py; how
answers and payment returns are delivered (split, doubled lines, UTF-8, CRLF, one payment file a day…):
options.py.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import asyncssh

from aplypro_local.fake_asp import answers, returns
from aplypro_local.fake_asp.behaviour import Behaviour
from aplypro_local.fake_asp.options import UNRELATED_FILE
from aplypro_local.fake_asp.pickup import UPLOAD_NAME, Answer, AspDesk, Violation

# What the server offers: asyncssh's defaults plus the CBC cipher the ASP's own client forces (§3.1).
ENCRYPTION_ALGS = [*(a.decode() for a in asyncssh.encryption.get_default_encryption_algs()), "aes256-cbc"]


@dataclass
class _Write:
    path: Path
    bytes: int = 0


class _Ssh(asyncssh.SSHServer):
    def __init__(self, fake: FakeAsp) -> None:
        self._fake = fake

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn

    def begin_auth(self, username: str) -> bool:
        # The authorized keys are given per login, so that a refused login (faults.refuse_login) offers none.
        if not self._fake.behaviour.faults.refuse_login:
            self._conn.set_authorized_keys(str(self._fake.authorized_keys))
        return True

    def password_auth_supported(self) -> bool:
        return self._fake.behaviour.password is not None and not self._fake.behaviour.faults.refuse_login

    def validate_password(self, username: str, password: str) -> bool:
        return password == self._fake.behaviour.password


class _Sftp(asyncssh.SFTPServer):
    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], fake: FakeAsp) -> None:
        super().__init__(chan, chroot=os.fsencode(fake.root))
        self._fake = fake
        self._writes: dict[object, _Write] = {}

    def _local(self, path: bytes) -> Path:
        return Path(os.fsdecode(self.map_path(path)))

    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        await self._fake.slow()
        file_obj = super().open(path, pflags, attrs)
        if pflags & asyncssh.FXF_WRITE:
            self._writes[file_obj] = _Write(self._local(path))
        return file_obj

    async def write(self, file_obj: object, offset: int, data: bytes) -> int:
        write = self._writes.get(file_obj)
        faults = self._fake.behaviour.faults
        cut = faults.disconnect_after_bytes
        if (write is not None and write.path.parent == self._fake.upload_dir and cut is not None
                and faults.disconnects > 0 and offset + len(data) >= cut):
            super().write(file_obj, offset, data[: max(0, cut - offset)])
            faults.disconnects -= 1
            self._fake.disconnects += 1
            self.connection.abort()  # the line drops: the client never hears about this write
            raise asyncssh.SFTPConnectionLost("connection cut by the fake ASP")
        written = super().write(file_obj, offset, data)
        assert isinstance(written, int)  # the default implementation writes synchronously
        return written

    async def close(self, file_obj: object) -> None:
        super().close(file_obj)
        write = self._writes.pop(file_obj, None)
        if write is not None and write.path.parent == self._fake.upload_dir:
            self._fake.arrived(write.path.name)  # a direct write under a final name is an upload too

    async def rename(self, oldpath: bytes, newpath: bytes) -> None:
        await self._fake.slow()
        if self._fake.behaviour.faults.fail_renames > 0:
            self._fake.behaviour.faults.fail_renames -= 1
            raise asyncssh.SFTPFailure("rename refused by the fake ASP")
        super().rename(oldpath, newpath)  # refuses to replace an existing file
        target = self._local(newpath)
        if target.parent == self._fake.upload_dir:
            self._fake.arrived(target.name)

    async def remove(self, path: bytes) -> None:
        await self._fake.slow()
        target = self._local(path)
        faults = self._fake.behaviour.faults
        if target.parent == self._fake.return_dir and faults.fail_removes > 0:
            faults.fail_removes -= 1
            raise asyncssh.SFTPFailure("remove refused by the fake ASP")
        super().remove(path)
        if target.parent == self._fake.return_dir:
            self._fake.return_removed(target.name)

    async def stat(self, path: bytes) -> Any:
        await self._fake.slow()
        return super().stat(path)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        await self._fake.slow()
        async for name in super().scandir(path):
            yield name


class FakeAsp:
    def __init__(self, root: Path, host_key: Path, authorized_keys: Path, behaviour: Behaviour | None = None,
                 clock: Callable[[], datetime] | None = None, encryption_algs: list[str] | None = None) -> None:
        self.root = root.resolve()
        self.upload_dir, self.return_dir = self.root / "depot", self.root / "retour"
        self.host_key, self.authorized_keys = host_key, authorized_keys
        self.behaviour = behaviour or Behaviour()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.desk = AspDesk(self.behaviour)
        self.uploads: Counter[str] = Counter()  # arrivals under a final name in the drop folder
        self.disconnects = 0
        self.returns_written: list[str] = []
        self._taken: set[str] = set()
        self._redeliver: dict[str, list[bytes]] = {}
        self._acceptor: asyncssh.SSHAcceptor | None = None
        self.encryption_algs = encryption_algs or ENCRYPTION_ALGS  # ["aes256-cbc"]: offer only the ASP's cipher
        self._paid: set[int] = set()  # integrated records already in a payments return
        self._emitted: Counter[str] = Counter()  # return files emitted per kind: a new <CODE> for each after the first
        self._payment_draws = random.Random(self.behaviour.seed + 1)  # noqa: S311 - fictitious outcomes
        self._split_rest: list[answers.HeldAnswer] = []  # split answers' second halves (options.AnswerOptions.split)
        self._day_files: dict[str, list[Any]] = {}  # payments/recoveries written under each same-day name

    # -- server life -------------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        for folder in (self.upload_dir, self.return_dir):
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ".keep").touch()
        self._acceptor = await asyncssh.listen(
            host, port, server_host_keys=[str(self.host_key)], server_factory=lambda: _Ssh(self), sftp_factory=lambda chan: _Sftp(chan, self), allow_scp=False,
            encryption_algs=self.encryption_algs, config=[])
        return self.port

    @property
    def port(self) -> int:
        assert self._acceptor is not None, "start() first"
        return int(self._acceptor.get_port())

    async def close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
            self._acceptor = None

    async def __aenter__(self) -> FakeAsp:
        await self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def slow(self) -> None:
        if self.behaviour.faults.delay_s > 0:
            await asyncio.sleep(self.behaviour.faults.delay_s)

    # -- what the tests look at ----------------------------------------------------------------------------
    @property
    def violations(self) -> list[Violation]:
        return self.desk.violations

    @property
    def record_counts(self) -> Counter[int]:
        """How many times each idEnregistrement was received (the tests assert 1)."""
        return self.desk.records_seen

    @property
    def paid_records(self) -> set[int]:
        """idEnregistrement answered in a payments or recovery-order return."""
        return set(self._paid)

    def files(self, folder: Path) -> list[str]:
        return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".keep"))

    # -- the ASP's side ------------------------------------------------------------------------------------
    def arrived(self, name: str) -> None:
        if name.startswith("."):
            return  # a temporary name: not an upload yet
        if not UPLOAD_NAME.match(name):
            self.desk.violations.append(Violation("unexpected_name", name))
            return
        self.uploads[name] += 1
        if self.behaviour.auto_pickup:
            self.process_uploads()

    def process_uploads(self) -> list[str]:
        """Take every payment file of the drop folder not taken yet; answer each accepted one. A pick-up first
        delivers the rest of the answers split at the one before (options.AnswerOptions.split)."""
        self.release_held_answers()
        taken = []
        for path in sorted(self.upload_dir.iterdir()):
            if not UPLOAD_NAME.match(path.name) or path.name in self._taken:
                continue
            content = path.read_bytes()
            self._taken.add(path.name)
            if self.behaviour.remove_taken:
                path.unlink()
                self._taken.discard(path.name)  # gone: the same name arriving again is a new arrival
            answer = self.desk.take(path.name, content, self.clock())
            if answer is not None:
                self._deliver(path.name, answer)
            taken.append(path.name)
        return taken

    def _deliver(self, upload: str, answer: Answer) -> None:
        options = self.behaviour.answers
        answer = answers.shaped(answer, options)
        if options.split:
            whole = answer
            answer, rest = answers.halves(whole)
            self._split_rest.append(answers.HeldAnswer(upload, whole, rest))
        self._write_answer(upload, answer.integrated, answer.rejected)
        if options.unrelated_file:
            (self.return_dir / UNRELATED_FILE).write_bytes(b"Fichier de test, sans rapport avec vos envois.\n")

    def _write_answer(self, upload: str, integrated: list[returns.Integrated] | None,
                      rejected: list[returns.Rejected] | None) -> None:
        options = self.behaviour.answers
        if integrated is not None:
            self.write_return(returns.integrations_name(upload), returns.integrations_csv(integrated, options))
        if rejected is not None:
            self.write_return(returns.rejects_name(upload), returns.rejects_csv(rejected, options))

    def release_held_answers(self) -> None:
        """The second half of each split answer, under the same names: the whole answer when the first half is
        still in the read folder (the ASP rewrites its file), only the rest once the client took it."""
        held, self._split_rest = self._split_rest, []
        for h in held:
            present = [(self.return_dir / name(h.upload)).exists()
                       for name in (returns.integrations_name, returns.rejects_name)]
            self._write_answer(h.upload, (h.whole if present[0] else h.rest).integrated,
                               (h.whole if present[1] else h.rest).rejected)

    def write_return(self, name: str, content: bytes) -> None:
        faults = self.behaviour.faults
        queue = self._redeliver.setdefault(name, [])
        if faults.truncate_returns:
            queue.append(content)  # the whole file comes once the client removed the cut one
            content = returns.truncated(content)
        if faults.deliver_twice:
            queue.append(queue[-1] if queue else content)
        (self.return_dir / name).write_bytes(content)
        self.returns_written.append(name)

    def return_removed(self, name: str) -> None:
        queue = self._redeliver.get(name)
        if queue:
            (self.return_dir / name).write_bytes(queue.pop(0))
            self.returns_written.append(name)

    def _unanswered(self) -> list[returns.Integrated]:
        return [line for record_id, line in sorted(self.desk.integrated.items()) if record_id not in self._paid]

    def _held(self, line: returns.Integrated) -> int:
        """What the ASP paid so far for the record's prestation (euros): a first payment holds nothing yet."""
        return self.desk.paid_total.get(line.prestation_id, 0) if line.modification else 0

    def _next_code(self, kind: str) -> str:
        self._emitted[kind] += 1
        return self.behaviour.payments_code + (str(self._emitted[kind]) if self._emitted[kind] > 1 else "")

    def _file_name(self, kind: str, on: date, name_of: Callable[[str, date], str]) -> tuple[str, list[Any]]:
        """The return's name, and what the day's file already holds when a second emission appends to it:
        a new <CODE> per emission, or (options.PaymentOptions.naming "same_day") one name a day, appended to
        while it is still in the read folder, re-used with new content once the client took it."""
        if self.behaviour.payments.naming == "new_code":
            return name_of(self._next_code(kind), on), []
        name = name_of(self.behaviour.payments_code, on)
        return name, self._day_files.get(name, []) if (self.return_dir / name).exists() else []

    def emit_payments(self, only: Collection[int] | None = None) -> str | None:
        """One payments return (§5.3) for every integrated record not answered yet: `PAYE` with its MTNET, or,
        at the behaviour's `unpaid_rate` (seeded), `INVALIDE` with a §6.2 code. A modification record (§8.1)
        is paid the difference to its new total (or the total: `mtnet_after_rectification`); one lowering the
        total waits for `emit_recovery_orders`. The file's name, or None when there is nothing to pay. A second
        call the same day writes under a new <CODE> (one file per call), or appends to / re-uses the day's name
        (options.PaymentOptions.naming). `only`: answer these idEnregistrement only, the others wait."""
        pending = [line for line in self._unanswered() if (line.amount_euros or 0) >= self._held(line)
                   and (only is None or line.record_id in only)]
        if not pending:
            return None
        payments = []
        for line in pending:
            if self._payment_draws.random() < self.behaviour.unpaid_rate:
                code, text = self._payment_draws.choice(self.behaviour.unpaid_codes)
                payments.append(returns.Payment(line, paid=False, failure_code=code, failure_text=text))
            else:
                total = line.amount_euros or 0
                net = total - self._held(line) if self.behaviour.mtnet_after_rectification == "difference" else total
                payments.append(returns.Payment(line, paid=True, net_euros=net))
                self.desk.paid_total[line.prestation_id] = total
            self._paid.add(line.record_id)
        on = self.clock().date()
        name, earlier = self._file_name("payments", on, returns.payments_name)
        self._day_files[name] = payments = earlier + payments
        self.write_return(name, returns.payments_xml(payments, on, self.behaviour.payments))
        return name

    def emit_recovery_orders(self) -> str | None:
        """One recovery-order return (§5.4) for every integrated modification record that lowered its PFMP's
        total (an indu): `EMIS` claiming the difference back, or, at `invalid_recovery_rate` (seeded), `INVALIDE`
        with CODEMOTIFOR C1. The file's name, or None when nothing is owed back."""
        pending = [line for line in self._unanswered() if (line.amount_euros or 0) < self._held(line)]
        if not pending:
            return None
        orders = []
        for line in pending:
            claimed = self._held(line) - (line.amount_euros or 0)
            issued = self._payment_draws.random() >= self.behaviour.invalid_recovery_rate
            orders.append(returns.RecoveryOrder(line, claimed, issued, sign=self.behaviour.recovery_sign))
            if issued:
                self.desk.paid_total[line.prestation_id] = line.amount_euros or 0
            self._paid.add(line.record_id)
        on = self.clock().date()
        name, earlier = self._file_name("recovery_orders", on, returns.recovery_orders_name)
        self._day_files[name] = orders = earlier + orders
        self.write_return(name, returns.recovery_orders_xml(orders, on, self.behaviour.payments))
        return name
