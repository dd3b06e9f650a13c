"""The local stack's processes share a bytecode cache (aplypro_local.stack.bytecode_cache, in the user's cache
folder): a module is compiled by the first process that imports it, not by every service, consumer process and
CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aplypro_local.stack import bytecode_cache, shared_pycache


def test_without_bytecode_writes_the_stack_gets_a_cache_prefix_and_keeps_the_rest(tmp_path: Path) -> None:
    env = bytecode_cache({"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/bin"}, tmp_path / "pycache")
    assert env == {"PATH": "/bin", "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}


def test_a_callers_own_cache_prefix_and_choice_are_kept(tmp_path: Path) -> None:
    mine = {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/elsewhere"}
    assert bytecode_cache(mine, tmp_path / "pycache") == mine


def test_a_process_of_the_stack_writes_the_modules_it_imports_into_the_cache_and_the_next_one_reads_them(
        tmp_path: Path) -> None:
    cache = tmp_path / "pycache"
    env = bytecode_cache({"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin:/bin"}, cache)
    source = tmp_path / "src"
    source.mkdir()
    (source / "somemodule.py").write_text("VALUE = 42\n")
    command = [sys.executable, "-c", "import somemodule; print(somemodule.__cached__)"]
    first = subprocess.run(command, env={**env, "PYTHONPATH": str(source)}, capture_output=True, text=True,
                           check=True)
    cached = Path(first.stdout.strip())
    assert cached.is_file()
    assert cache in cached.parents
    assert not (source / "__pycache__").exists()  # nothing beside the sources
    written = cached.stat().st_mtime_ns
    subprocess.run(command, env={**env, "PYTHONPATH": str(source)}, capture_output=True, text=True, check=True)
    assert cached.stat().st_mtime_ns == written  # read, not compiled again


def test_the_stacks_share_one_cache_in_the_users_cache_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert shared_pycache() == tmp_path / "aplypro" / "pycache"
