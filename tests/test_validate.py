"""The one YAML loader under the config and the web config: problems, never tracebacks.

Each case runs through both public loaders, ``load_config`` and ``load_web_config``, so a
loader that stops using ``load_yaml`` fails here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from exporter.config import load_config
from exporter.errors import ConfigError
from exporter.validate import MAX_VALUES, load_yaml, parse_size, positive_size
from exporter.web.webconfig import load_web_config

SECRET = "s3cret-9a8b7c"
LOADERS = [
    pytest.param(load_config, id="config"),
    pytest.param(load_web_config, id="web-config"),
]
Loader = Callable[[Path], object]


def bomb(levels: int = 9) -> str:
    """Billion laughs: each level nine aliases of the one before, 9**levels strings in all."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    for level in range(1, levels):
        aliases = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{aliases}]")
    return "\n".join(lines) + "\n"


def problems(loader: Loader, path: Path, text: str) -> list[str]:
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        loader(path)
    assert caught.value.source == str(path)
    return caught.value.problems


@pytest.mark.parametrize("loader", LOADERS)
class TestNoLineQuoted:
    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            pytest.param(
                f'token: "{SECRET}\n',
                "while scanning a quoted scalar, found unexpected end of stream "
                "at line 2, column 1",
                id="unterminated-quote",
            ),
            pytest.param(
                f"token: {SECRET}: x\n",
                "mapping values are not allowed here at line 1, column 21",
                id="second-colon",
            ),
            pytest.param(
                f"a:\n\ttoken: {SECRET}\n",
                "while scanning for the next token, found character '\\t' that cannot start "
                "any token at line 2, column 1",
                id="tab",
            ),
            pytest.param(
                f"token: [{SECRET}\n",
                "while parsing a flow sequence, expected ',' or ']', but got '<stream end>' "
                "at line 2, column 1",
                id="open-list",
            ),
            pytest.param(
                f"a:\n  b: 1\n c: {SECRET}\n",
                "while parsing a block mapping, expected <block end>, but found "
                "'<block mapping start>' at line 3, column 2",
                id="indentation",
            ),
            pytest.param(
                f'token: "{SECRET}\\q"\n',
                "while scanning a double-quoted scalar, found unknown escape character 'q' "
                "at line 1, column 23",
                id="escape",
            ),
            pytest.param(
                f"token: {SECRET}\x00\n",
                "special characters are not allowed (character 21)",
                id="control-character",
            ),
            pytest.param(
                f"token: {SECRET}\n---\nb: 2\n",
                "expected a single document in the stream, but found another document "
                "at line 2, column 1",
                id="two-documents",
            ),
        ],
    )
    def test_a_syntax_error_gives_the_position_only(
        self, loader: Loader, tmp_path: Path, text: str, problem: str
    ) -> None:
        """What and where, never the text of the line, which may hold the token."""
        path = tmp_path / "file.yml"
        found = problems(loader, path, text)
        assert found == [f"{path}: not valid YAML: {problem}"]
        assert SECRET not in found[0]


@pytest.mark.parametrize("loader", LOADERS)
class TestOddValues:
    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            pytest.param(
                f"a: !!int {SECRET}\n", "invalid !!int value at line 1, column 4", id="int"
            ),
            pytest.param(
                "a: !!timestamp 2026-02-30\n",
                "invalid !!timestamp value at line 1, column 4",
                id="impossible-timestamp",
            ),
            pytest.param(
                "a: " + "1" * 5000 + "\n",
                "invalid !!int value at line 1, column 4",
                id="5000-digit-int",
            ),
            pytest.param(
                "a: !!binary 'not base64!'\n",
                "failed to decode base64 data: Invalid base64-encoded string: number of data "
                "characters (9) cannot be 1 more than a multiple of 4 at line 1, column 4",
                id="bad-binary",
            ),
            pytest.param(
                "a: !!python/object:os.system x\n",
                "could not determine a constructor for the tag "
                "'tag:yaml.org,2002:python/object:os.system' at line 1, column 4",
                id="python-tag",
            ),
            pytest.param(
                "{[a]: b}\n",
                "while constructing a mapping, found unhashable key at line 1, column 2",
                id="list-key",
            ),
            pytest.param(
                "a: {<<: 5}\n",
                "while constructing a mapping, expected a mapping or list of mappings for "
                "merging, but found scalar "
                "at line 1, column 9",
                id="bad-merge",
            ),
            pytest.param(
                "a: &x [1, *x]\n",
                "an alias inside the value it names at line 1, column 4",
                id="self-alias",
            ),
            pytest.param(
                bomb(),
                f"aliases expand to more than {MAX_VALUES:,} values at line 6, column 5",
                id="alias-bomb",
            ),
            pytest.param(
                "a: " + "[" * 700 + "]" * 700 + "\n",
                "values nested too deeply",
                id="deep-nesting",
            ),
        ],
    )
    def test_a_value_that_cannot_be_built_is_a_problem(
        self, loader: Loader, tmp_path: Path, text: str, problem: str
    ) -> None:
        """Whatever building a value raises is one problem naming the file and the place."""
        path = tmp_path / "file.yml"
        assert problems(loader, path, text) == [f"{path}: not valid YAML: {problem}"]

    def test_not_utf8(self, loader: Loader, tmp_path: Path) -> None:
        """A file in another encoding names the first byte that is not UTF-8."""
        path = tmp_path / "file.yml"
        path.write_bytes(b"a: caf\xe9\n")
        with pytest.raises(ConfigError) as caught:
            loader(path)
        assert caught.value.problems == [f"{path}: not UTF-8 text (byte 7)"]


class TestAliases:
    def test_aliases_within_the_limit_load(self, tmp_path: Path) -> None:
        """Anchors that expand modestly are ordinary YAML: only a bomb is refused."""
        path = tmp_path / "file.yml"
        path.write_text(bomb(levels=5), encoding="utf-8")  # 9**5 = 59,049 strings
        data = load_yaml(path)
        assert isinstance(data, dict)
        assert leaves(data["a4"]) == 9**5 < MAX_VALUES


def leaves(value: object) -> int:
    return sum(leaves(item) for item in value) if isinstance(value, list) else 1


class TestDatesStayStrings:
    def test_an_impossible_date_is_an_agent_name(self, tmp_path: Path) -> None:
        """``agents: [2026-02-30]`` is the agent login "2026-02-30", not a ValueError."""
        path = tmp_path / "config.yaml"
        path.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: https://apid.cention.com\n"
            "    token: t\n    agents: [2026-02-30, 2026-12-24]\n",
            encoding="utf-8",
        )
        assert load_config(path, {}).workspaces[0].agents == ("2026-02-30", "2026-12-24")

    def test_a_date_in_the_web_config_is_a_string(self, tmp_path: Path) -> None:
        """A date where the web config wants a path is refused as the string it is."""
        path = tmp_path / "web.yml"
        path.write_text("auth_excluded_paths: [/metrics, 2026-02-30]\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_web_config(path)
        assert caught.value.problems == [
            "auth_excluded_paths: expected a list of paths starting with /"
        ]

    def test_binary_is_refused_where_a_string_belongs(self, tmp_path: Path) -> None:
        """``!!binary`` builds bytes, which the token's check refuses by name."""
        path = tmp_path / "config.yaml"
        path.write_text(
            "workspaces:\n  - workspace: demo\n    api_url: https://apid.cention.com\n"
            "    token: !!binary aGVsbG8=\n",
            encoding="utf-8",
        )
        with pytest.raises(ConfigError) as caught:
            load_config(path, {})
        assert caught.value.problems == ["workspaces[0].token: must be a non-empty string"]


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
