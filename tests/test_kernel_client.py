"""The kernel client reports use (``report._ready_client``): ready as soon as the kernel
answered and IOPub carried a message, without jupyter_client's 0.2 s of waiting for IOPub
silence; no output may be lost for it. The reference is the kernel's own output: every
line a cell prints must arrive on IOPub, for each of many fresh clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from jupyter_core.utils import run_sync

from liftlab.report import KernelSession, _ready_client


async def _printed(kc, code: str) -> str:
    """What ``code`` printed, read from IOPub until the kernel went idle for it."""
    msg_id = kc.execute(code)
    text = []
    while True:
        msg = await kc.get_iopub_msg(timeout=30)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream":
            text.append(msg["content"]["text"])
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return "".join(text)


def test_fresh_clients_lose_no_output(tmp_path: Path) -> None:
    session = KernelSession()
    session.start(tmp_path)
    try:
        session.reset(tmp_path)
        assert isinstance(session.km.client(), _ready_client())

        async def rounds() -> list[str]:
            seen = []
            for i in range(12):  # each a new client, as each report's papermill run is
                kc = session.km.client()
                kc.start_channels()
                try:
                    await kc.wait_for_ready(timeout=30)
                    seen.append(await _printed(kc, f"print({i} * 7)"))
                finally:
                    kc.stop_channels()
            return seen

        assert run_sync(rounds)() == [f"{i * 7}\n" for i in range(12)]
    finally:
        session.end()


def test_a_dead_kernel_is_said(tmp_path: Path) -> None:
    session = KernelSession()
    session.start(tmp_path)
    try:
        session.reset(tmp_path)
        kc = session.km.client()
        kc.start_channels()
        session.kill()
        with pytest.raises(RuntimeError, match=r"died|respond"):
            run_sync(kc.wait_for_ready)(timeout=5)
        kc.stop_channels()
    finally:
        session.end()
