"""The push tests' push service: the project's strict local one (``pushes.devinbox``), with
the answers of a hostile or broken endpoint on top.

Each subscription answers from a script: a status with headers (``pushes.devinbox.Reply``), or
here also a hang; or, as a hostile endpoint would, a huge body or an answer trickled a byte at a
time. ``answered`` records how much of such an answer got written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from pushes import devinbox
from pushes.devinbox import PushInbox


@dataclass(frozen=True)
class Reply(devinbox.Reply):
    hang: bool = False
    # A body of this many bytes (``BODY_TEXT`` over and over), written as fast as it is taken.
    body_size: int = 0
    # Seconds between single bytes of the answer: from its status line on, or with
    # ``trickle_body`` after the status and headers (sent at once).
    trickle: float = 0.0
    trickle_body: bool = False


# What a hostile endpoint's body says: it must never reach what staff read.
BODY_TEXT = b"INTERNAL-SECRET db-password=hunter2 "


@dataclass
class Answered:
    """How much of a long or trickled answer got written before the sender hung up."""

    total: int
    written: int = 0
    cut: bool = False


HANG = Reply(0, hang=True)


class PushService(PushInbox):
    def __init__(self, vapid_public_key: str, **kwargs: Any) -> None:
        super().__init__(vapid_public_key, **kwargs)
        self.answered: list[Answered] = []
        self._release = threading.Event()

    def stop(self) -> None:
        self._release.set()
        super().stop()

    def release_hangs(self) -> None:
        self._release.set()

    def answer(self, handler: BaseHTTPRequestHandler, reply: devinbox.Reply) -> None:
        if isinstance(reply, Reply) and reply.hang:
            # Never answer: the sender's read timeout fires. Released at teardown.
            self._release.wait(120)
            handler.close_connection = True
            return
        if isinstance(reply, Reply) and (reply.body_size or reply.trickle):
            _long_answer(self, handler.connection, reply)
            handler.close_connection = True
            return
        super().answer(handler, reply)


def _long_answer(service: PushService, sock: Any, reply: Reply) -> None:
    """Write a huge body, or trickle the answer, until done or the sender hangs up."""
    reason = BaseHTTPRequestHandler.responses.get(reply.status, ("",))[0]
    head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in reply.headers.items()
    )
    head += f"Content-Length: {reply.body_size}\r\nConnection: close\r\n\r\n"
    answered = Answered(total=len(head) + reply.body_size)
    with service._lock:
        service.answered.append(answered)
    try:
        for piece in _pieces(head.encode("latin-1"), reply):
            sock.sendall(piece)
            answered.written += len(piece)
            if reply.trickle and service._release.wait(reply.trickle):
                return
    except OSError:
        answered.cut = True


def _pieces(head: bytes, reply: Reply) -> Iterator[bytes]:
    if not reply.trickle:
        yield head
        yield from _body(reply.body_size)
        return
    if reply.trickle_body:
        yield head
    else:
        yield from _bytes_of(head)
    for block in _body(reply.body_size):
        yield from _bytes_of(block)


def _body(size: int) -> Iterator[bytes]:
    block = BODY_TEXT * (64 * 1024 // len(BODY_TEXT))
    for start in range(0, size, len(block)):
        yield block[: size - start]


def _bytes_of(data: bytes) -> Iterator[bytes]:
    return (data[i : i + 1] for i in range(len(data)))
