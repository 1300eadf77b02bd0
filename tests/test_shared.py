"""Shared renders: concurrent callers of one key get one render between those who waited."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from exporter.web.shared import SharedRenders


class Renders:
    """Numbered renders that each block until the test lets them finish."""

    def __init__(self) -> None:
        self.started: list[threading.Event] = [threading.Event() for _ in range(5)]
        self.finish: list[threading.Event] = [threading.Event() for _ in range(5)]
        self.count = 0
        self.fail_next = False

    def make(self) -> bytes:
        number = self.count
        self.count += 1
        self.started[number].set()
        assert self.finish[number].wait(10)
        if self.fail_next:
            self.fail_next = False
            raise ValueError("collector broke")
        return f"render {number}".encode()


def eventually(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture(name="pool")
def fixture_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as pool:
        yield pool


class TestSharedRenders:
    def test_a_lone_caller_renders(self) -> None:
        """With nothing under way, the caller runs the render itself."""
        assert SharedRenders().render("text", lambda: b"body") == b"body"

    def test_those_arriving_during_a_render_share_the_next(self, pool: ThreadPoolExecutor) -> None:
        """Three callers arriving while render 0 runs all get render 1, and nothing more runs."""
        shared, renders = SharedRenders(), Renders()
        first = pool.submit(shared.render, "text", renders.make)
        assert renders.started[0].wait(10)
        later = [pool.submit(shared.render, "text", renders.make) for _ in range(3)]
        assert eventually(lambda: shared.waiting() == 3)
        renders.finish[0].set()
        renders.finish[1].set()
        results = [first.result(10), *(f.result(10) for f in later)]
        assert (results, renders.count) == ([b"render 0"] + [b"render 1"] * 3, 2)

    def test_a_caller_never_gets_a_render_begun_before_it_came(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """Arriving while render 1 runs, a caller waits for render 2 rather than take render 1."""
        shared, renders = SharedRenders(), Renders()
        first = pool.submit(shared.render, "text", renders.make)
        assert renders.started[0].wait(10)
        second = pool.submit(shared.render, "text", renders.make)
        assert eventually(lambda: shared.waiting() == 1)
        renders.finish[0].set()
        assert renders.started[1].wait(10)
        third = pool.submit(shared.render, "text", renders.make)
        assert eventually(lambda: shared.waiting() == 1)
        renders.finish[1].set()
        renders.finish[2].set()
        assert [f.result(10) for f in (first, second, third)] == [
            b"render 0",
            b"render 1",
            b"render 2",
        ]

    def test_keys_do_not_wait_for_each_other(self, pool: ThreadPoolExecutor) -> None:
        """A render of another key (format) starts at once."""
        shared, renders = SharedRenders(), Renders()
        text = pool.submit(shared.render, "text", renders.make)
        assert renders.started[0].wait(10)
        assert shared.render("openmetrics", lambda: b"other") == b"other"
        renders.finish[0].set()
        assert text.result(10) == b"render 0"

    def test_a_failed_render_fails_those_who_waited_and_the_next_one_runs(
        self, pool: ThreadPoolExecutor
    ) -> None:
        """The caller running a render that raises gets the error, those sharing it get
        RenderFailed, and a later caller renders afresh."""
        shared, renders = SharedRenders(), Renders()
        first = pool.submit(shared.render, "text", renders.make)
        assert renders.started[0].wait(10)
        waiting: list[Future[bytes]] = [
            pool.submit(shared.render, "text", renders.make) for _ in range(2)
        ]
        assert eventually(lambda: shared.waiting() == 2)
        renders.finish[0].set()
        assert renders.started[1].wait(10)
        renders.fail_next = True
        renders.finish[1].set()
        errors = sorted(type(f.exception(10)).__name__ for f in waiting)
        renders.finish[2].set()
        assert (first.result(10), errors) == (b"render 0", ["RenderFailed", "ValueError"])
        assert shared.render("text", renders.make) == b"render 2"
