"""Every docstring example in the package runs in the tests, holds, and cannot go missing.

Each module's examples are counted: a module listed here that loses its examples, or one
that gains examples without being listed, fails instead of passing on zero examples.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import exporter

EXAMPLES = {  # module -> the number of ``>>>`` examples in its docstrings
    "exporter.build": 1,
    "exporter.commands.backfill": 1,
    "exporter.config": 3,
    "exporter.core.localtime": 2,
    "exporter.core.parsing": 1,
    "exporter.core.records": 6,
    "exporter.core.report": 2,
    "exporter.core.window": 11,
    "exporter.logs": 1,
    "exporter.metrics": 3,
    "exporter.simulator.effects": 3,
    "exporter.simulator.faults": 2,
    "exporter.simulator.handler": 3,
    "exporter.simulator.names": 1,
    "exporter.simulator.render": 2,
    "exporter.simulator.scenario": 2,
    "exporter.simulator.server": 1,
    "exporter.state": 3,
    "exporter.web.activation": 1,
}


def modules() -> list[str]:
    """Every module of the package but ``__main__``, which runs the CLI when imported."""
    found = pkgutil.walk_packages(exporter.__path__, prefix="exporter.")
    return sorted(module.name for module in found if not module.name.endswith(".__main__"))


class TestDocstrings:
    @pytest.mark.parametrize("name", modules())
    def test_examples_hold(self, name: str) -> None:
        """Every example of the module passes, and it has exactly the examples listed."""
        result = doctest.testmod(importlib.import_module(name))
        assert (result.failed, result.attempted) == (0, EXAMPLES.get(name, 0))

    def test_every_listed_module_exists(self) -> None:
        """A listed module that was moved or renamed is noticed, not silently skipped."""
        assert sorted(set(EXAMPLES) - set(modules())) == []
