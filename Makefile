# Two entry points for a fresh machine: `make run` (the main job) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint bench-parsing bench-semantics train-semantics

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: it resolves to the local CPU build instead of GBs of CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	@mkdir -p .logai && rm -f .logai/example-state.json
	$(VENV)/bin/logai parse examples/logs/payments-api.log --out .logai/example-events.jsonl \
		--state .logai/example-state.json
	@echo "--- first event of .logai/example-events.jsonl:"
	@head -n 1 .logai/example-events.jsonl
	@echo "--- templates mined (final forms), by count:"
	$(VENV)/bin/logai templates --state .logai/example-state.json

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check .

bench-parsing: install
	$(PY) pipelines/bench_parsing.py --out reports/parsing

bench-semantics: install
	$(PY) pipelines/bench_semantics.py --out reports/semantics

train-semantics: install
	$(PY) pipelines/train_semantics.py --out logai/semantics/pair_model.json
