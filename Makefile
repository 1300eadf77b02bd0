# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test tools lint typecheck unit bench wheel clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/cention-logio-exporter demo

lint: $(VENV)/.installed
	$(BIN)/ruff check exporter tests deploy grafana benchmarks
	$(BIN)/ruff format --check exporter tests deploy grafana benchmarks

typecheck: $(VENV)/.installed
	$(BIN)/mypy

unit: $(VENV)/.installed
	$(BIN)/pytest

# The system tools the tests drive (promtool, prometheus, kubectl, chromium, ...): each missing
# one is installed from its Debian package, or the one command to run is printed.
tools:
	PYTHON=$(PYTHON) scripts/install-system-tools.sh

test: tools lint typecheck unit

# Benchmarks print each figure beside its floor measured in the same run; not part of test.
bench: $(VENV)/.installed
	$(BIN)/python -m benchmarks

# The wheel to install elsewhere (systemd, a venv on a server): dist/*.whl, built offline
# from this tree with the venv's setuptools.
wheel: $(VENV)/.installed
	rm -f dist/cention_logio_exporter-*.whl
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
