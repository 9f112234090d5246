# Two commands: `make run` and `make test`. Everything installs into .venv/ via a pinned uv.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: install run demo-cli screenshots leaflet-samples test lint typecheck pytest bench clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock $(wildcard src/rplcare/*/locale/*/LC_MESSAGES/*.po)
	# Bytecode compiled at install, as pip does: with PYTHONDONTWRITEBYTECODE set (as on the
	# CI machine) every start would otherwise compile ~900 modules again (0.8 s vs 0.3 s for
	# `rplcare risk`). Editable sources too; a stale .pyc is ignored by mtime.
	$(UV) sync --locked --all-extras --compile-bytecode
	$(VENV)/bin/python -m compileall -q src >/dev/null
	@touch $@

install: $(VENV)/.synced

run: install
	$(VENV)/bin/rplcare serve --demo

screenshots: install
	RPLCARE_UPDATE_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/e2e

# Page 1 of each language's leaflet for an example case, as PNG (docs/leaflets/, linked from
# the README), plus the full PDFs for reading. Needs pdftoppm (poppler-utils).
leaflet-samples: install
	$(VENV)/bin/python scripts/leaflet_samples.py

demo-cli: install
	@for f in examples/*.json; do $(VENV)/bin/rplcare assess "$$f" || exit 1; done
	$(VENV)/bin/rplcare risk --age 34 --losses 3 --gestational-days 56 --heartbeat
	$(VENV)/bin/rplcare leaflet examples/secondary-current-pregnancy.json --lang nl -f pdf -o leaflet-nl.pdf
	$(VENV)/bin/rplcare fhir import tests/fhir/data/synthea/virginia_mercado.json.gz -o virginia.json
	$(VENV)/bin/rplcare fhir export virginia.json -o virginia-bundle.json
	$(VENV)/bin/rplcare knowledge export-fhir -o knowledge-bundle.json

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy

pytest: install
	$(VENV)/bin/pytest

test: lint typecheck pytest
	$(VENV)/bin/rplcare knowledge check

bench: install
	$(VENV)/bin/python benchmarks/bench_assess.py
	$(VENV)/bin/python benchmarks/bench_web.py
	$(VENV)/bin/python benchmarks/bench_web.py --endpoint cds --rate 100
	$(VENV)/bin/python benchmarks/bench_cohort.py
	$(VENV)/bin/python benchmarks/bench_leaflet.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
