"""What every training run leaves in its --out folder: the checkpoint, metrics.json, the curve."""

import time
from pathlib import Path

from models.checkpoint import save_checkpoint
from training.evaluation import plot_training_curve, write_json


def write_outputs(out, family, history, started, **checkpoint) -> dict:
    """A trained model's checkpoint fields (save_checkpoint's keywords but family) and its
    per-epoch history → out/model.pt, out/metrics.json and out/training_curve.png; returns the
    checkpoint written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = save_checkpoint(out / "model.pt", family=family, **checkpoint)
    write_json(out / "metrics.json", checkpoint["metrics"])
    plot_training_curve(history, out / "training_curve.png", family)
    print(f"wrote {out}/model.pt, metrics.json, training_curve.png "
          f"in {time.perf_counter() - started:.0f}s")
    return written
