# Two commands: `make run` and `make test`. Everything else is what they stand on.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test setup migrate demo lint bench clean messages browser

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

messages: $(STAMP)
	$(PY) manage.py compile_locale

# ECharts for the metrics dashboard, pinned in package.json/package-lock.json, from the npm registry;
# served from our static files (static/vendor/ and var/ are git-ignored).
ECHARTS_JS := static/vendor/echarts/echarts.min.js
assets: $(ECHARTS_JS)
$(ECHARTS_JS): package.json package-lock.json
	mkdir -p var/npm $(dir $(ECHARTS_JS))
	cp package.json package-lock.json var/npm/
	npm ci --prefix var/npm --no-audit --no-fund --loglevel=error
	cp var/npm/node_modules/echarts/dist/echarts.min.js $@

setup: $(STAMP) messages assets

migrate: setup
	mkdir -p var
	$(PY) manage.py migrate --noinput -v 0

# The first run imports the demo world; later runs keep it and only catch the jobs up.
demo: migrate
	$(PY) manage.py seed_demo

# The web server and the django-q2 cluster (scheduled jobs) together; Ctrl-C stops both.
run: demo
	$(PY) manage.py runserver_with_cluster $(HOST):$(PORT)

# Browser tests drive Debian's chromium, with a CJK font so screenshots show Chinese; install
# them when missing and we may (root with apt).
# Without it the browser tests skip and say why.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -d /usr/share/fonts/truetype/wqy ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Debian's chromium and a CJK font for the browser tests"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null) \
	      || echo "could not install chromium: browser tests will be skipped"; \
	  else echo "no /usr/bin/chromium and no way to install it: browser tests will be skipped"; fi; \
	fi

test: setup browser
	$(PY) -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) var/db.sqlite3*
