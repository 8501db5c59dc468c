"""Write four small data sets, one for each kind of family tools.new_family makes, as a user
would bring them: docs/your-model.md makes a family of each.

    python docs/your-model/example_data.py OUT

OUT/wine.csv       tabular-classifier: scikit-learn's wine measurements, 13 columns and a label
OUT/diabetes.csv   tabular-regressor: scikit-learn's diabetes measurements and a target
OUT/topics.csv     text-classifier: 100 sentences about cooking or space, written by hand
OUT/arrows/        image-classifier: arrows pointing up, down, left or right, drawn at random
                   sizes, places and colours, a folder per direction
"""

import random
import shutil
import sys
from pathlib import Path

from PIL import Image, ImageDraw
from sklearn.datasets import load_diabetes, load_wine

HERE = Path(__file__).resolve().parent
DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}
ARROWS_PER_DIRECTION = 40


def write_tables(out: Path):
    wine = load_wine(as_frame=True)
    frame = wine.frame.rename(columns={"target": "label"})
    frame["label"] = frame["label"].map(dict(enumerate(wine.target_names)))
    frame.to_csv(out / "wine.csv", index=False)
    load_diabetes(as_frame=True, scaled=False).frame.to_csv(out / "diabetes.csv", index=False)
    shutil.copyfile(HERE / "topics.csv", out / "topics.csv")


def contrasting(pick: random.Random, background) -> tuple:
    """A background colour → a random colour at least 120 away from it in brightness."""
    while True:
        colour = tuple(pick.randrange(256) for _ in range(3))
        if abs(sum(colour) - sum(background)) / 3 >= 120:
            return colour


def draw_arrow(pick: random.Random, direction: str) -> Image.Image:
    """One arrow on a canvas of random size and colour, at a random place and length."""
    width, height = pick.randint(40, 220), pick.randint(40, 220)
    background = tuple(pick.randrange(256) for _ in range(3))
    image = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(image)
    ink = contrasting(pick, background)
    dx, dy = DIRECTIONS[direction]
    side = min(width, height)
    length = pick.uniform(0.35, 0.8) * (width if dx else height)
    thickness = max(2, round(side * pick.uniform(0.04, 0.1)))
    head = max(4, round(side * pick.uniform(0.12, 0.22)))
    # The arrow's middle, far enough from the edges that all of it shows.
    margin_x = (length / 2 if dx else head) + 2
    margin_y = (length / 2 if dy else head) + 2
    cx = pick.uniform(margin_x, width - margin_x) if width > 2 * margin_x else width / 2
    cy = pick.uniform(margin_y, height - margin_y) if height > 2 * margin_y else height / 2
    tail = (cx - dx * length / 2, cy - dy * length / 2)
    tip = (cx + dx * length / 2, cy + dy * length / 2)
    base = (tip[0] - dx * head, tip[1] - dy * head)
    draw.line([tail, base], fill=ink, width=thickness)
    wing = (dy * head * 0.7, dx * head * 0.7)  # across the arrow
    draw.polygon([tip, (base[0] + wing[0], base[1] + wing[1]),
                  (base[0] - wing[0], base[1] - wing[1])], fill=ink)
    return image


def write_drawn_pictures(folder: Path, per_direction=ARROWS_PER_DIRECTION, seed=0):
    """A folder per direction of arrow pictures, some PNG and some JPEG, as a person might
    collect them."""
    pick = random.Random(seed)
    for direction in DIRECTIONS:
        (folder / direction).mkdir(parents=True, exist_ok=True)
        for index in range(per_direction):
            image = draw_arrow(pick, direction)
            if index % 3 == 2:
                image.save(folder / direction / f"{index:03d}.jpg", quality=pick.randint(70, 95))
            else:
                image.save(folder / direction / f"{index:03d}.png")


def main(argv):
    if len(argv) != 1:
        raise SystemExit(__doc__)
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    write_tables(out)
    write_drawn_pictures(out / "arrows")
    print(f"wrote {out}/wine.csv, diabetes.csv, topics.csv and arrows/ "
          f"({ARROWS_PER_DIRECTION * len(DIRECTIONS)} pictures)")


if __name__ == "__main__":
    main(sys.argv[1:])
