# Everything installs into local virtual environments:
#   .venv          development: $(PYTHON), the newest versions pip resolves, plus
#                  the docs extra; lint, docs, demo and bench run here
#   .venv-lowest   the lowest versions pyproject declares, pinned by
#                  $(CONSTRAINTS_LOWEST), on the lowest Python it declares (3.11)
#   .venv-newest   the newest versions on the newest Python of the machine
#   .venv-v07      showerdata 0.7.0, which has our import name; the compatibility
#                  tests and benchmarks call it through its interpreter
# `make test` lints, builds the docs, and runs the suite in .venv-lowest and in
# .venv-newest (both run even when the first fails; the status says if either did).
PYTHON ?= python3
VENV := .venv
VENV_LOWEST := .venv-lowest
VENV_NEWEST := .venv-newest
VENV_V07 := .venv-v07
PY := $(VENV)/bin/python
PY_V07 := $(abspath $(VENV_V07))/bin/python
CONSTRAINTS_LOWEST := .ci/constraints-lowest.txt
# The extras of pyproject every test environment installs.
TEST_EXTRAS := test,plots
# torch (the [torch] extra, for the loader's torch tests and notebook) is pinned
# and installed on its own: an unpinned resolve may pull a multi-GB CUDA build.
# Python 3.13 has no torch build here, so the newest run deselects the tests
# marked `torch` (-m "not torch"); numpy batches are tested everywhere.
TORCH_INSTALL ?= torch==2.13.0

# The newest Python: pyenv's newest 3.13.x, else its newest 3.12.x, else $(PYTHON)
# (the newest-versions run then says so). Set PYTHON_NEWEST to choose another.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo "$$HOME/.pyenv")
# $(call pyenv_python,3.13): the interpreter of pyenv's newest 3.13.x that runs.
pyenv_python = $(firstword $(shell \
	for v in $$(ls "$(PYENV_ROOT)/versions" 2>/dev/null \
			| grep -xE '$(subst .,\.,$(1))\.[0-9]+' | sort -rV); do \
		p="$(PYENV_ROOT)/versions/$$v/bin/python"; \
		"$$p" -c '' 2>/dev/null && echo "$$p"; \
	done))
ifndef PYTHON_NEWEST
PYTHON_NEWEST := $(or $(call pyenv_python,3.13),$(call pyenv_python,3.12),$(PYTHON))
endif
# The lowest versions run on the lowest Python pyproject declares (numpy 1.26 has
# no wheels for 3.13): pyenv's newest 3.11.x, else $(PYTHON).
ifndef PYTHON_LOWEST
PYTHON_LOWEST := $(or $(call pyenv_python,3.11),$(PYTHON))
endif

# The suite in one environment. The docs build is tested once, in $(VENV).
# $(2): more pytest options (the newest run deselects the torch tests).
run_suite = SHOWERDATA_V07_PYTHON=$(PY_V07) $(1)/bin/python -m pytest -q \
	--ignore=tests/test_docs.py $(2)

.PHONY: test test-lowest test-newest test-docs demo demo-clean bench \
	bench-productions lint clean docs mutation

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(TEST_EXTRAS)]'
	$(PY) -m pip install -q '$(TORCH_INSTALL)'
	touch $@

# The docs extra (Sphinx) on top of the development install; `make test` builds
# the docs with warnings as errors (tests/test_docs.py), so CI checks them.
$(VENV)/.docs-installed: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install -q -e '.[$(TEST_EXTRAS),docs]'
	touch $@

$(VENV_LOWEST)/.installed: pyproject.toml $(CONSTRAINTS_LOWEST)
	$(PYTHON_LOWEST) -m venv --clear $(VENV_LOWEST)
	$(VENV_LOWEST)/bin/python -m pip install -q --upgrade pip
	$(VENV_LOWEST)/bin/python -m pip install -q -c $(CONSTRAINTS_LOWEST) \
		-e '.[$(TEST_EXTRAS)]'
	$(VENV_LOWEST)/bin/python -m pip install -q -c $(CONSTRAINTS_LOWEST) '$(TORCH_INSTALL)'
	touch $@

$(VENV_NEWEST)/.installed: pyproject.toml
	@[ "$(PYTHON_NEWEST)" != "$(PYTHON)" ] || echo "note: no Python 3.13 or 3.12" \
		"under $(PYENV_ROOT); the newest-versions run uses $(PYTHON) instead"
	$(PYTHON_NEWEST) -m venv --clear $(VENV_NEWEST)
	$(VENV_NEWEST)/bin/python -m pip install -q --upgrade pip
	$(VENV_NEWEST)/bin/python -m pip install -q -e '.[$(TEST_EXTRAS)]'
	touch $@

# Without 0.7.0 the interchange tests cannot run, so this fails rather than skip.
$(VENV_V07)/.installed:
	$(PYTHON) -m venv $(VENV_V07)
	$(VENV_V07)/bin/python -m pip install -q 'showerdata==0.7.0'
	cd / && $(PY_V07) -c 'import showerdata; assert showerdata.__version__ == "0.7.0"'
	touch $@

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check showerdata tests benchmarks
	$(VENV)/bin/ruff format --check showerdata tests benchmarks

test-docs: $(VENV)/.docs-installed
	$(PY) -m pytest -q tests/test_docs.py

test-lowest: $(VENV_LOWEST)/.installed $(VENV_V07)/.installed
	@echo "== lowest versions: $$($(VENV_LOWEST)/bin/python --version)"
	$(call run_suite,$(VENV_LOWEST))

test-newest: $(VENV_NEWEST)/.installed $(VENV_V07)/.installed
	@echo "== newest versions: $$($(VENV_NEWEST)/bin/python --version)"
	$(call run_suite,$(VENV_NEWEST),-m "not torch")

test: lint test-docs $(VENV_LOWEST)/.installed $(VENV_NEWEST)/.installed \
		$(VENV_V07)/.installed
	@status=0; \
	$(MAKE) --no-print-directory test-lowest || status=1; \
	$(MAKE) --no-print-directory test-newest || status=1; \
	exit $$status

demo: $(VENV)/.installed
	$(VENV)/bin/showerdata demo

# Removes the files `make demo` wrote into demo-output/ (and nothing else).
demo-clean: $(VENV)/.installed
	$(VENV)/bin/showerdata demo --clean

bench: $(VENV)/.installed $(VENV_V07)/.installed
	SHOWERDATA_V07_PYTHON=$(PY_V07) $(PY) benchmarks/run.py

# Productions of many files (issue 18): opening 1,000 and 10,000 files, reads,
# peak RSS, partitioned saves on a LocalCluster. Several minutes; not in bench.
bench-productions: $(VENV)/.installed
	$(PY) benchmarks/productions.py

# Mutation testing of ops/, the model and io/api.py against their fast tests
# ([tool.mutmut] in pyproject.toml); not run in CI. A whole run takes about 80
# minutes here; a stopped run resumes where it was (mutmut re-runs the functions
# that changed), `make clean` starts afresh. docs/testing.md reports the score.
$(VENV)/.mutation-installed: $(VENV)/.installed
	$(PY) -m pip install -q 'mutmut==3.8.1'
	touch $@

mutation: $(VENV)/.mutation-installed $(VENV_V07)/.installed
	SHOWERDATA_V07_PYTHON=$(PY_V07) $(VENV)/bin/mutmut run --max-children 2 || true
	$(PY) .ci/mutation_score.py

clean:
	rm -rf $(VENV) $(VENV_LOWEST) $(VENV_NEWEST) $(VENV_V07) build *.egg-info \
		.pytest_cache demo-output mutants

# -E: read every page again, so warnings of unchanged pages are not hidden.
docs: $(VENV)/.docs-installed
	$(PY) -m sphinx -E -W --keep-going -b html docs docs/_build/html
	@echo "docs: file://$(abspath docs/_build/html/index.html)"
