"""A model trained the way a notebook would, outside this project: plain PyTorch on the wine CSV,
saved three ways for tools.bring_model. docs/your-model.md brings each into the wine family.

    python docs/your-model/train_elsewhere.py WINE_CSV OUT

OUT/wine.pt2            torch.export.save of the trained model, with a dynamic batch size
OUT/wine_scripted.pt    torch.jit.save of it, scripted
OUT/wine_state.pt       its state_dict, for the class WineNet in docs/your-model/wine_net.py
OUT/wine_args.json      the arguments WineNet was built with
"""

import csv
import json
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wine_net import WineNet  # noqa: E402  (the class lives beside this script, as in a notebook)

CLASSES = ["class_0", "class_1", "class_2"]  # the order the model's logits come in: sorted names


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    features = [name for name in rows[0] if name != "label"]
    x = torch.tensor([[float(row[name]) for name in features] for row in rows])
    y = torch.tensor([CLASSES.index(row["label"]) for row in rows])
    return x, y


def main(csv_path, out):
    torch.manual_seed(0)
    x, y = read(csv_path)
    order = torch.randperm(len(x))
    train, test = order[:140], order[140:]
    args = {"mean": x[train].mean(0).tolist(), "std": x[train].std(0).tolist(), "hidden": 32}
    model = WineNet(**args)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(300):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x[train]), y[train]).backward()
        optimizer.step()
    model.eval()  # a saved program keeps the mode it was saved in
    with torch.no_grad():
        accuracy = (model(x[test]).argmax(1) == y[test]).float().mean()
    print(f"held-out accuracy {accuracy:.3f} on {len(test)} wines")

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch")
    program = torch.export.export(model, (x[:2],), dynamic_shapes=({0: batch},))
    torch.export.save(program, out / "wine.pt2")
    torch.jit.save(torch.jit.script(model), out / "wine_scripted.pt")
    torch.save(model.state_dict(), out / "wine_state.pt")
    (out / "wine_args.json").write_text(json.dumps(args))
    print(f"wrote {out}/wine.pt2, wine_scripted.pt, wine_state.pt and wine_args.json")


if __name__ == "__main__":
    main(*sys.argv[1:])
