"""The directory lock: one live runtime per directory, stale locks taken over, reused pids not trusted."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from edge_runtime.lock import AlreadyRunning, RuntimeLock, process_start_ticks, read_lock_file

HOLD_LOCK = """
import sys, time
from edge_runtime.lock import RuntimeLock
lock = RuntimeLock(sys.argv[1]); lock.acquire(); print("locked", flush=True); sys.stdin.read()
"""


def test_acquire_writes_pid_and_start_time_and_release_removes_the_file(tmp_path):
    lock = RuntimeLock(tmp_path)
    assert lock.acquire() is None
    record = read_lock_file(tmp_path)
    assert record["pid"] == os.getpid()
    assert record["startedAt"].endswith("Z")
    assert record["processStart"] == process_start_ticks(os.getpid())
    lock.update(healthUrl="http://127.0.0.1:1")
    assert read_lock_file(tmp_path)["healthUrl"] == "http://127.0.0.1:1"
    lock.release()
    assert not (tmp_path / "edge-runtime.lock").exists()


def test_a_second_holder_in_another_process_is_refused_with_the_pid(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(AlreadyRunning) as caught:
            RuntimeLock(tmp_path).acquire()
        assert caught.value.pid == holder.pid
        assert str(caught.value) == f"Edge runtime already running (pid {holder.pid})"
    finally:
        holder.kill()
        holder.wait()
    # The kernel dropped the lock with the process: the next runtime takes it over and says so.
    lock = RuntimeLock(tmp_path)
    previous = lock.acquire()
    assert previous is not None and previous.pid == holder.pid
    lock.release()


def test_a_record_of_a_dead_process_is_stale(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    (tmp_path / "edge-runtime.lock").write_text(json.dumps({"pid": pid, "startedAt": "2026-01-01T00:00:00Z"}))
    lock = RuntimeLock(tmp_path)
    previous = lock.acquire()
    assert previous is not None and previous.pid == pid and previous.started_at == "2026-01-01T00:00:00Z"
    assert read_lock_file(tmp_path)["pid"] == os.getpid()
    lock.release()


def test_a_reused_pid_with_another_start_time_is_not_mistaken_for_the_holder(tmp_path):
    # Our parent is alive, but the record says it started at another time: the pid was reused.
    parent = os.getppid()
    ticks = process_start_ticks(parent)
    assert ticks is not None
    (tmp_path / "edge-runtime.lock").write_text(json.dumps({"pid": parent, "processStart": ticks + 12345}))
    lock = RuntimeLock(tmp_path)
    assert lock.acquire() is not None
    lock.release()


def test_a_live_recorded_holder_refuses_even_without_an_os_lock(tmp_path):
    # File systems where OS locks are no-ops: the record of a live process with its real start time still wins.
    parent = os.getppid()
    (tmp_path / "edge-runtime.lock").write_text(
        json.dumps({"pid": parent, "processStart": process_start_ticks(parent)})
    )
    with pytest.raises(AlreadyRunning, match=rf"\(pid {parent}\)"):
        RuntimeLock(tmp_path).acquire()


def test_process_start_ticks_of_a_missing_process_is_none():
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    assert process_start_ticks(int(dead.stdout)) is None


# ------------------------------------------------------------------------------------ issue 12, hole 16
def _hold(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_deleting_the_lock_file_under_a_live_runtime_does_not_admit_a_second(tmp_path):
    from tests.support.waiting import wait_until

    holder = _hold(tmp_path)
    try:
        (tmp_path / "edge-runtime.lock").unlink()  # "delete it when you believe it stale"
        with pytest.raises(AlreadyRunning) as caught:
            RuntimeLock(tmp_path, watch_interval=0).acquire()
        assert str(caught.value) == f"Edge runtime already running (pid {holder.pid})"
        # The holder notices and puts its record back.
        wait_until(lambda: read_lock_file(tmp_path).get("pid") == holder.pid, 10, message="lock file restored")
    finally:
        holder.kill()
        holder.wait()
    lock = RuntimeLock(tmp_path, watch_interval=0)
    assert lock.acquire() is not None  # after the holder died, the directory is free again
    lock.release()


def test_a_replaced_lock_file_is_put_back_by_its_holder(tmp_path):
    lock = RuntimeLock(tmp_path, watch_interval=0)
    lock.acquire()
    try:
        (tmp_path / "edge-runtime.lock").unlink()
        (tmp_path / "edge-runtime.lock").write_text('{"pid": 1}')
        assert lock.restore_if_lost() is True
        assert read_lock_file(tmp_path)["pid"] == os.getpid()
        assert lock.restore_if_lost() is False
        lock.update(healthUrl="http://127.0.0.1:2")
        assert read_lock_file(tmp_path)["healthUrl"] == "http://127.0.0.1:2"
        with pytest.raises(AlreadyRunning):
            RuntimeLock(tmp_path, watch_interval=0).acquire()
    finally:
        lock.release()
    assert not (tmp_path / "edge-runtime.lock").exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left behind


@pytest.mark.skipif(sys.platform == "win32", reason="O_NOFOLLOW is POSIX")
def test_a_symlink_planted_at_the_lock_name_is_never_written_through(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    install = tmp_path / "install"
    install.mkdir()
    (install / "edge-runtime.lock").symlink_to(victim)
    with pytest.raises(OSError):
        RuntimeLock(install, watch_interval=0).acquire()
    assert victim.read_text() == "precious"
