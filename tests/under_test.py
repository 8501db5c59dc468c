"""What this test run is about: which families, whose checkpoints, which of them sends a picture
or text (shared by the test modules, which import this, not one another)."""

import os

from harness.examples import sample
from harness.settings import ROOT, model_families

# Every model family with serving settings, or only those named in TEST_MODELS
# (comma-separated) to work on a few families at a time.
MODELS = (os.environ["TEST_MODELS"].split(",") if os.environ.get("TEST_MODELS")
          else model_families())
# The checkpoints under test: `make test` sets CHECKPOINT_DIR (checkpoints/seed-3 for
# TRAIN_SEED=3 make test); run by hand, the repository's checkpoints/.
CHECKPOINT_DIR = ROOT / (os.environ.get("CHECKPOINT_DIR") or "checkpoints")


def first_with_sample(media):
    """The first family under test whose sample request (its handler's `sample`) has a content
    type starting with `media` ("image/", "text/"), or None."""
    return next((model for model in MODELS if (sample(model) or (None, ""))[1].startswith(media)),
                None)
