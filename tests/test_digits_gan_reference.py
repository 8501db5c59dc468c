"""The digits_gan handler against the one it replaced (bench/handlers_before/digits_gan.py): the
same PNG bytes for any pixels, and, in batches as the server forms them, the same answer to every
request and every refusal in the same words."""

import json
import random

import torch

from bench.handlers_before.digits_gan import render_png as render_png_before
from handlers.messages import Request
from models.digits_gan import MAX_COUNT, render_pngs
from tests.in_process import assert_answers_unchanged

BATCH_SIZE = 4  # model-config's batchSize


def test_the_pngs_are_the_bytes_pillow_wrote_for_each_image():
    generator = torch.Generator().manual_seed(0)
    stacks = [torch.rand(MAX_COUNT, 1, 8, 8, generator=generator) * 18 - 1 for _ in range(60)]
    stacks += [stacks[0].round(), torch.zeros(3, 1, 8, 8), torch.full((2, 1, 8, 8), 16.0),
               torch.arange(64.0).reshape(1, 1, 8, 8) / 4]
    for stack in stacks:
        assert render_pngs(stack) == [render_png_before(image) for image in stack]


def requests(count, seed=0) -> list:
    """Requests like a client's, each with a seed (a picked one would differ between handlers),
    now and then a field out of range or of the wrong type."""
    rng = random.Random(seed)
    made = []
    for _ in range(count):
        body = {"digit": rng.randrange(10), "count": rng.randint(1, MAX_COUNT),
                "seed": rng.randrange(2**63)}
        if rng.random() < 0.15:
            body[rng.choice(["digit", "count", "seed"])] = rng.choice([-1, 10, 17, 0, 2**63, "7",
                                                                      None, 1.5, True])
        if rng.random() < 0.5:
            made.append(Request(json.dumps(body).encode(), "application/json"))
        else:
            made.append(Request(body, "application/json", parsed=True))
    return made + [Request(b'{"digit": 3', "application/json"),
                   Request(b'{"instances": [{"digit": 1, "seed": 5}, {"digit": 2, "seed": 6}]}',
                           "application/json")]


def test_answers_and_refusals_are_the_replaced_handlers(checkpoint_dir):
    assert_answers_unchanged("digits_gan", checkpoint_dir, requests(300), BATCH_SIZE)
