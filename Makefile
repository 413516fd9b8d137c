# The README's two commands: `make demo` and `make test`. Both set up what is missing.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PSHCTL := $(VENV)/bin/pshctl
STAMP := $(VENV)/.installed

.PHONY: demo test setup system-deps lint typecheck completions docs bench mutation clean

# scripts/pip-editable installs the checkout editable (and says why in its mode).
# pip's own output (build back-end warnings, notices) goes to a log, shown only on failure,
# so that it does not open `make demo`.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@echo "installing pshctl and its Python dependencies into $(VENV) (log: $(VENV)/pip.log)"
	@{ $(PY) -m pip install -q --upgrade pip && ./scripts/pip-editable $(PY) test,fabric; } \
		> $(VENV)/pip.log 2>&1 || { cat $(VENV)/pip.log; exit 1; }
	@touch $(STAMP)

setup: system-deps $(STAMP)

# sshd and runit are real parts of the sandbox and of the integration tests.
system-deps:
	@./scripts/system-deps

demo: setup
	./scripts/demo

test: setup
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check pshctl tests bench tools
	$(VENV)/bin/mypy

completions: $(STAMP)
	$(PY) -m tools.devtools completions

docs: $(STAMP)
	$(PY) -m tools.devtools docs

# Mutation testing of the pure core (tools/mutation.py, docs/testing.md); not run by CI.
mutation: $(STAMP)
	@./scripts/pip-editable $(PY) mutation > $(VENV)/pip-mutation.log 2>&1 \
		|| { cat $(VENV)/pip-mutation.log; exit 1; }
	$(PY) -m tools.mutation $(MODULES)

# Ratios against baselines measured in the same run (bench/README.md); BENCH_ARGS=--quick
# for a shorter run. parallel-ssh, one baseline, is optional: its row is skipped without it.
bench: setup
	@$(PY) -c 'import pssh' 2>/dev/null || ./scripts/pip-editable $(PY) bench \
		|| echo "parallel-ssh is not installable here: its row is skipped"
	$(PY) bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
