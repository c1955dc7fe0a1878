# Quick start: `make demo` (sets up .venv when needed, fine-tunes the shipped tiny SAM2 on CPU),
# `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first, from the local wheel cache on our machines; override for another CUDA build.
TORCH_PACKAGES ?= torch==2.14.1 torchvision==0.29.1
# sam2's CUDA extension (mask hole filling at inference) only where a GPU toolchain exists.
SAM2_BUILD_CUDA ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 1 || echo 0)
DEMO_DATA ?= data/shifted
DEMO_TEST ?= data/shifted_test
DEMO_RUN ?= sam2_logs/demo
PRETRAIN_DATA ?= data/pretrain
PRETRAIN_RUN ?= sam2_logs/pretrain_synthetic
SHIPPED_MODEL := models/tiny_demo_synthetic.pt
STAMP := $(VENV)/.installed

.PHONY: setup demo pretrain test lint format lock clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet $(TORCH_PACKAGES) setuptools wheel
	# sam2 is an sdist that builds against torch: reuse the venv's torch (no second download).
	SAM2_BUILD_CUDA=$(SAM2_BUILD_CUDA) $(BIN)/pip install --quiet --no-build-isolation sam2==1.1.0
	$(BIN)/pip install --quiet -e ".[dev]"
	# Reference scorer for tests/benchmarks. Its opencv-python dependency would clash with our
	# opencv-python-headless (same cv2 module): no deps; numpy, pillow, tqdm, scikit-image are in.
	$(BIN)/pip install --quiet --no-deps vos-benchmark==0.1.0
	touch $(STAMP)

$(DEMO_DATA): | $(STAMP)
	$(BIN)/sam2-data synth --out $(DEMO_DATA) --style shifted --seed 0 --val-videos 16

# Before vs after is scored on 64 videos from another seed: the 16 validation videos that
# training watches are too few to tell a real change from noise (README: "The demo model").
$(DEMO_TEST): | $(STAMP)
	$(BIN)/sam2-data synth --out $(DEMO_TEST) --style shifted --seed 1 --train-videos 0 \
		--val-videos 64

DEMO_EVAL = --data $(DEMO_TEST) --videos $(DEMO_TEST)/ImageSets/val.txt --processes 2

# Fine-tune the shipped pretrained model on a domain it has not seen; J&F before vs after.
demo: $(STAMP) $(DEMO_DATA) $(DEMO_TEST)
	$(BIN)/sam2-train -c demo --num-gpus 2 dataset.root=$(CURDIR)/$(DEMO_DATA) \
		launcher.experiment_log_dir=$(CURDIR)/$(DEMO_RUN)
	rm -rf $(DEMO_RUN)/eval_pretrained $(DEMO_RUN)/eval_finetuned
	$(BIN)/sam2-eval run --config demo --checkpoint $(SHIPPED_MODEL) $(DEMO_EVAL) \
		--out $(DEMO_RUN)/eval_pretrained
	$(BIN)/sam2-eval run --run $(DEMO_RUN) $(DEMO_EVAL) --out $(DEMO_RUN)/eval_finetuned \
		--gif val_0000
	$(BIN)/sam2-eval compare "pretrained=$(DEMO_RUN)/eval_pretrained" \
		"fine-tuned=$(DEMO_RUN)/eval_finetuned" --out $(DEMO_RUN)/j_and_f_per_video.png

# The shipped model's recipe (README: "The demo model"): ~1.5 h on 2 CPU cores. Stop it at any
# time (Ctrl-C, kill): `make pretrain` again resumes from the last checkpoint.
$(PRETRAIN_DATA): | $(STAMP)
	$(BIN)/sam2-data synth --out $(PRETRAIN_DATA) --style pretrain --seed 1000 \
		--train-videos 400 --val-videos 8 --frames 24

pretrain: $(STAMP) $(PRETRAIN_DATA)
	$(BIN)/sam2-train -c pretrain_synthetic --num-gpus 2 dataset.root=$(CURDIR)/$(PRETRAIN_DATA) \
		launcher.experiment_log_dir=$(CURDIR)/$(PRETRAIN_RUN)

test: $(STAMP)
	$(BIN)/pytest -q --durations=25  # the 25 slowest, so CI shows where its time goes

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

lock: $(STAMP)
	$(BIN)/python docker/freeze_requirements.py

clean:
	rm -rf $(DEMO_DATA) $(DEMO_TEST) $(DEMO_RUN) .pytest_cache
