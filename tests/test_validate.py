"""Validation primitives: sizes in bytes."""

from __future__ import annotations

import re

import pytest

from exporter.validate import parse_size, positive_size


class TestSizes:
    @pytest.mark.parametrize(
        ("value", "size"),
        [
            pytest.param("256MiB", 268_435_456, id="mebibytes"),
            pytest.param("1GiB", 1_073_741_824, id="gibibytes"),
            pytest.param("512KiB", 524_288, id="kibibytes"),
            pytest.param("2TiB", 2_199_023_255_552, id="tebibytes"),
            pytest.param("10MB", 10_000_000, id="megabytes"),
            pytest.param("10kB", 10_000, id="kilobytes"),
            pytest.param("10KB", 10_000, id="kilobytes-capital"),
            pytest.param("3GB", 3_000_000_000, id="gigabytes"),
            pytest.param("1TB", 1_000_000_000_000, id="terabytes"),
            pytest.param("1000B", 1000, id="bytes-unit"),
            pytest.param("1048576", 1_048_576, id="plain-string"),
            pytest.param(" 64MiB ", 67_108_864, id="surrounding-space"),
            pytest.param(1_048_576, 1_048_576, id="int"),
            pytest.param(0, 0, id="zero"),
        ],
    )
    def test_valid(self, value: object, size: int) -> None:
        """Each documented size form gives its number of bytes, 1024-based only with an i."""
        assert parse_size(value) == size

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            pytest.param("256 MiB", "got '256 MiB'", id="inner-space"),
            pytest.param("256mib", "got '256mib'", id="lower-case"),
            pytest.param("10mb", "got '10mb'", id="bits"),
            pytest.param("1.5GiB", "got '1.5GiB'", id="fraction"),
            pytest.param("MiB", "got 'MiB'", id="unit-only"),
            pytest.param("-1MiB", "got '-1MiB'", id="negative-string"),
            pytest.param("10PB", "got '10PB'", id="unknown-unit"),
            pytest.param("", "got ''", id="empty"),
            pytest.param(1.5, "got 1.5", id="float"),
            pytest.param(True, "got True", id="bool"),
            pytest.param(None, "got None", id="none"),
            pytest.param(["1MiB"], "got ['1MiB']", id="list"),
        ],
    )
    def test_invalid(self, value: object, message: str) -> None:
        """Anything that is not a whole number of bytes with a known unit is refused."""
        expected = f"expected a size like 512KiB, 256MiB, 10MB or a number of bytes, {message}"
        with pytest.raises(ValueError, match=f"^{re.escape(expected)}$"):
            parse_size(value)

    def test_negative_number(self) -> None:
        """A negative number of bytes says so."""
        with pytest.raises(ValueError, match=r"^must not be negative, got -1$"):
            parse_size(-1)

    def test_positive_size_refuses_zero(self) -> None:
        """A limit of zero bytes is refused; one byte is the least."""
        assert positive_size("1B") == 1
        with pytest.raises(ValueError, match=r"^must be at least 1 byte, got '0MiB'$"):
            positive_size("0MiB")
