# Two commands set up everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SCENARIO ?= scenarios/yuyao-2024.toml

.PHONY: run test lint bench clean chromium

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ladder run $(SCENARIO)

test: $(STAMP) chromium
	$(BIN)/python -m pytest

# `ladder report` is tested by rendering its page in headless Chromium (Debian's packages; the
# Noto CJK fonts so that the Chinese headings render).
chromium:
	(command -v chromium >/dev/null && fc-list :lang=zh | grep -q .) || \
		(export DEBIAN_FRONTEND=noninteractive; apt-get update -q && apt-get install -y -q chromium fonts-noto-cjk)

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_run.py

clean:
	rm -rf $(VENV) results/*/
