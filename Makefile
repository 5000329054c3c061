# The two commands of the README: `make run` and `make test`. Everything else is a helper.
VENV ?= .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1:8000
PYTEST_ARGS ?=
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: run test install lint bench vendor

$(VENV)/.installed: requirements.txt requirements-dev.txt client/pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	# CPU torch first: any other torch pulls gigabytes of CUDA wheels.
	$(VENV)/bin/pip install --quiet torch==2.13.0
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

# The host `make run` binds must be an allowed host name. On 0.0.0.0 (every interface) other
# machines reach it by this machine's names and addresses (IPv6 ones in brackets).
BIND_HOST := $(patsubst %:$(lastword $(subst :, ,$(HOST))),%,$(HOST))
ifeq ($(BIND_HOST),0.0.0.0)
RUN_ALLOWED_HOSTS := 127.0.0.1,localhost,$(shell hostname 2>/dev/null),$(shell hostname -f 2>/dev/null),$(shell hostname -I 2>/dev/null | tr ' ' '\n' | sed '/:/s/.*/[&]/' | paste -sd, -)
else
RUN_ALLOWED_HOSTS := 127.0.0.1,localhost,$(BIND_HOST)
endif
# An ALLOWED_HOSTS of your own wins. runserver speaks plain HTTP: the lab opt-out of HTTPS.
run: export ALLOWED_HOSTS ?= $(RUN_ALLOWED_HOSTS)
run: export ASSAY_HTTPS ?= false

run: install
	$(PY) manage.py migrate --no-input
	$(PY) manage.py load_demo --if-empty --address $(HOST)
	$(PY) manage.py reindex --if-needed
	# What Celery beat runs elsewhere (outbox redispatch, reconcile, time-box checks), beside
	# the server and stopped with it.
	$(PY) manage.py run_periodic & periodic=$$!; trap 'kill $$periodic 2>/dev/null' EXIT INT TERM; \
		$(PY) manage.py runserver $(HOST)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) manage.py makemigrations --check --dry-run
	$(VENV)/bin/lint-imports

BENCH_VENV := var/bench-venv

$(BENCH_VENV)/.installed: requirements-bench.txt
	$(VENV)/bin/pip install --quiet -r requirements-bench.txt
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet mlflow==3.17.2 "psycopg[binary]==3.3.9"
	touch $@

bench: install $(BENCH_VENV)/.installed
	$(PY) bench/run_all.py

# Refresh the vendored JavaScript (uPlot, pinned and hash-checked) from the npm registry.
vendor:
	scripts/vendor_uplot.sh
