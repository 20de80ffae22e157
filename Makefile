# Everything installs into local virtual environments made with the system python.
PYTHON ?= python3
VENV := .venv
VENV_V07 := .venv-v07
PY := $(VENV)/bin/python
# showerdata 0.7.0 has our import name, so it lives in its own environment; the
# compatibility tests and benchmarks call it through this interpreter.
PY_V07 := $(abspath $(VENV_V07))/bin/python

.PHONY: test demo bench lint clean docs

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,plots]'
	touch $@

# If 0.7.0 cannot be installed (no registry), the tests that need it skip.
$(VENV_V07)/.installed:
	$(PYTHON) -m venv $(VENV_V07)
	$(VENV_V07)/bin/python -m pip install -q 'showerdata==0.7.0' && touch $@ \
		|| echo "warning: could not install showerdata 0.7.0; its tests will skip"

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check showerdata tests benchmarks
	$(VENV)/bin/ruff format --check showerdata tests benchmarks

test: $(VENV)/.installed $(VENV)/.docs-installed $(VENV_V07)/.installed lint
	SHOWERDATA_V07_PYTHON=$(PY_V07) $(PY) -m pytest -q

demo: $(VENV)/.installed
	$(VENV)/bin/showerdata demo

bench: $(VENV)/.installed $(VENV_V07)/.installed
	SHOWERDATA_V07_PYTHON=$(PY_V07) $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV_V07) build *.egg-info .pytest_cache demo-output

# The docs extra (Sphinx) on top of the development install. `make test` needs it
# too: tests/test_docs.py builds the docs with warnings as errors, so CI checks them.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[test,plots,docs]'
	touch $@

# -E: read every page again, so warnings of unchanged pages are not hidden.
docs: $(VENV)/.docs-installed
	$(PY) -m sphinx -E -W --keep-going -b html docs docs/_build/html
	@echo "docs: file://$(abspath docs/_build/html/index.html)"
