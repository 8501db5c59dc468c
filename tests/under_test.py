"""What this test run is about: which families, whose checkpoints (shared by the test modules,
which import this, not one another)."""

import os

from harness.settings import ROOT, model_families

# Every model family with serving settings, or only those named in TEST_MODELS
# (comma-separated) to work on a few families at a time.
MODELS = (os.environ["TEST_MODELS"].split(",") if os.environ.get("TEST_MODELS")
          else model_families())
# The checkpoints under test: `make test` sets CHECKPOINT_DIR (checkpoints/seed-3 for
# TRAIN_SEED=3 make test); run by hand, the repository's checkpoints/.
CHECKPOINT_DIR = ROOT / (os.environ.get("CHECKPOINT_DIR") or "checkpoints")
