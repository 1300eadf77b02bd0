"""heap.release: malloc_trim where the C library has it, nothing elsewhere."""

from __future__ import annotations

import pytest

from exporter import heap


def test_release_trims_the_whole_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(heap, "_TRIM", lambda pad: calls.append(pad) or 1)
    assert heap.release() is True
    assert calls == [0]


def test_release_without_malloc_trim_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heap, "_TRIM", None)
    assert heap.release() is False


def test_glibc_has_malloc_trim() -> None:
    """This machine's C library is glibc, as the container image's is (Debian)."""
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert heap.release() is True
