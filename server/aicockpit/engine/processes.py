"""Engine child processes: killed with their own children, and reaped.

No grace period: on SIGTERM vLLM's engine core tears itself down for ~3.5 s
here (vLLM allows it 5 s), only to release memory the OS reclaims anyway when
it is killed.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterable
from multiprocessing.process import BaseProcess

REAP_TIMEOUT_S = 0.5
PRIORITY_PASSES = 3
_ipc_directory: str | None = None
# A socket's path holds at most 107 bytes (sockaddr_un); vLLM names each socket by a uuid4.
SOCKET_PATH_MAX = 107
SOCKET_NAME_LENGTH = 36


def ipc_directory() -> str | None:
    """A directory of this server's own for the sockets vLLM's processes talk over, or None
    when the temp directory's path is too long for one more level (vLLM's default then).

    vLLM makes them in the temp directory (``VLLM_RPC_BASE_PATH``) and removes them
    when its processes stop on request; killed (as here), they stay: 2-4 socket files
    for every engine started, thousands in /tmp after a few weeks of sessions. Here
    they go with the directory when the server ends (``remove_ipc_directory``).
    """
    global _ipc_directory
    if _ipc_directory is None:
        room = SOCKET_PATH_MAX - len(tempfile.gettempdir()) - len("/aicockpit-12345678/") - SOCKET_NAME_LENGTH
        if room < 0:
            return None
        _ipc_directory = tempfile.mkdtemp(prefix="aicockpit-")
        atexit.register(remove_ipc_directory)  # a process that ends another way (a test's)
    return _ipc_directory


def remove_ipc_directory() -> None:
    if _ipc_directory is not None:
        shutil.rmtree(_ipc_directory, ignore_errors=True)


def kill_trees(processes: Iterable[BaseProcess], timeout: float = REAP_TIMEOUT_S) -> None:
    """SIGKILL each process and its descendants, then reap them (waiting at most ``timeout`` in all)."""
    processes = [p for p in processes if p.is_alive()]
    for process in processes:
        if process.pid is None:  # never started (alive ones have one)
            continue
        for pid in [*_descendants(process.pid), process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + timeout
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))


def lower_priority(processes: Iterable[BaseProcess], nice: int) -> None:
    """Run ``processes`` and their descendants, every thread, at niceness ``nice`` (or nicer).

    A CPU engine keeps both cores of a small machine busy while it generates. At the
    same priority, the editor and the server, woken by a keystroke or an answer, wait
    for the running model thread's time slice: ~0.3 ms per hop here, on every
    suggestion (docs/performance.md). Linux sets niceness per thread, and threads
    started later inherit their creator's; raising it needs no privileges.
    """
    try:
        import psutil
    except ImportError:
        return

    def threads() -> list[int]:
        found = []
        for process in processes:
            for pid in [process.pid, *_descendants(process.pid)]:
                try:
                    found += [thread.id for thread in psutil.Process(pid).threads()]
                except (psutil.Error, ValueError):  # gone, or never started
                    pass
        return found

    processes = list(processes)
    for _ in range(PRIORITY_PASSES):  # a thread started during a pass by one not yet lowered
        lowered = 0
        for tid in threads():
            try:
                if os.getpriority(os.PRIO_PROCESS, tid) < nice:
                    os.setpriority(os.PRIO_PROCESS, tid, nice)
                    lowered += 1
            except OSError:  # the thread ended meanwhile
                pass
        if not lowered:
            return


def _descendants(pid: int | None) -> list[int]:
    """Children of children (vLLM's engine core starts its workers); psutil comes with vLLM."""
    try:
        import psutil

        return [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except Exception:  # no psutil, or the process is gone: vLLM's workers watch a death pipe
        return []


def kill_stragglers(rounds: int = 3) -> list[int]:
    """SIGKILL every other descendant of this process; the pids killed.

    ``multiprocessing.active_children`` misses processes started another way, and
    one an engine core started while it was being killed: such a grandchild outlives
    the server until it notices (10 s or more). The resource tracker is spared: it
    ends by itself once everything that shares its pipe has ended, and it alone
    removes the shared memory those processes leave behind.
    """
    try:
        import psutil
    except ImportError:
        return []
    spared = {_resource_tracker_pid()}
    killed: list[int] = []
    for _ in range(rounds):
        try:
            found = [p for p in psutil.Process().children(recursive=True) if p.pid not in spared]
        except psutil.Error:
            return killed
        alive = [p for p in found if p.pid not in killed]
        if not alive:
            break
        for process in alive:
            try:
                process.kill()
                killed.append(process.pid)
            except psutil.Error:
                pass
        psutil.wait_procs(alive, timeout=0.1)
    return killed


def _resource_tracker_pid() -> int | None:
    from multiprocessing import resource_tracker

    return getattr(resource_tracker._resource_tracker, "_pid", None)
