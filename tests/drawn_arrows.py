"""Pictures of arrows pointing up, down, left or right, drawn with Pillow at random sizes,
positions and colours: an image folder the scaffold was not made for, to try it on."""

import random
from pathlib import Path

from PIL import Image, ImageDraw

DIRECTIONS = {"up": (0, -1), "down": (0, 1), "left": (-1, 0), "right": (1, 0)}


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


def draw_arrow_folder(folder, per_direction=40, seed=0) -> Path:
    """A folder with one subfolder of `per_direction` arrow pictures per direction, some PNG and
    some JPEG, as a person might collect them."""
    pick = random.Random(seed)
    folder = Path(folder)
    for direction in DIRECTIONS:
        (folder / direction).mkdir(parents=True, exist_ok=True)
        for index in range(per_direction):
            image = draw_arrow(pick, direction)
            if index % 3 == 2:
                image.save(folder / direction / f"{index:03d}.jpg", quality=pick.randint(70, 95))
            else:
                image.save(folder / direction / f"{index:03d}.png")
    return folder
