"""`greenroom.ids`: fresh hex ids cut from per-thread blocks of OS randomness."""

from __future__ import annotations

import os
import re
import threading

import pytest

from greenroom.ids import new_id, random_hex


def test_an_id_is_32_lowercase_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", new_id())


@pytest.mark.parametrize("nbytes", [1, 6, 16, 5000])
def test_random_hex_gives_two_digits_per_byte(nbytes: int) -> None:
    assert re.fullmatch(rf"[0-9a-f]{{{2 * nbytes}}}", random_hex(nbytes))


def test_ids_do_not_repeat_across_many_blocks() -> None:
    ids = [new_id() for _ in range(5_000)]  # about twenty blocks
    assert len(set(ids)) == len(ids)


def test_threads_draw_from_their_own_blocks() -> None:
    drawn: list[list[str]] = [[], []]

    def draw(into: list[str]) -> None:
        into.extend(new_id() for _ in range(300))

    threads = [threading.Thread(target=draw, args=(into,)) for into in drawn]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert all(len(ids) == 300 for ids in drawn)
    assert not set(drawn[0]) & set(drawn[1])


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    new_id()  # the parent has a block under way
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids and leave at once
        os.close(read)
        os.write(write, " ".join(new_id() for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode().split()
    os.waitpid(pid, 0)
    parent = [new_id() for _ in range(10)]
    assert len(child) == 10
    assert not set(child) & set(parent)
