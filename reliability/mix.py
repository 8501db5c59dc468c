"""The request mix: test-split inputs for each model, good and bad, each with its in-process answer.

The expected answer of every call comes from the same checkpoint run through
the same handler class in this process, so a served answer that differs in
any way is caught.
"""

import json
import random
from pathlib import Path

from handlers import handler_class
from handlers.messages import Request
from models.checkpoint import load_checkpoint
from models.diabetes_mlp import FEATURES
from models.digits_cnn import digits_to_image
from harness.load import Call
from examples.digit_pictures import draw_digit, encode
from training.diabetes_data import load_diabetes_splits
from training.digits_data import load_digit_splits
from training.sentiment_data import load_sentiment_splits

ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
# How far a served number may be from the in-process one. The float32 models
# can round the 4th decimal of a probability differently when a request shares
# its batch with others; diabetes_mlp computes in float64 and the GAN draws
# each image on its own, so theirs are exact.
TOLERANCE = {"digits_cnn": 1e-4, "sentiment_rnn": 1e-4, "digits_gan": 0.0, "diabetes_mlp": 0.0}
# A label is only exact when the model is not on the fence: texts whose
# probability lies this close to 0.5 are left out of the mix.
LABEL_MARGIN = 0.01
JSON = "application/json"


def digits_cnn_bodies(checkpoint, size):
    """Test-split digits as PNGs; the bad ones are words and a cut-off PNG."""
    splits = load_digit_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    good = [(encode(digits_to_image(pixels)), "image/png") for pixels in splits.test_raw[:size]]
    bad = [(b"plain words, no picture", "image/png"), (encode(draw_digit("3"))[:150], "image/png")]
    return good, bad


def sentiment_rnn_bodies(checkpoint, size):
    """Test-split reviews, as text/plain and as JSON; the bad ones are too long or miss "text"."""
    data = checkpoint["data"]
    splits = load_sentiment_splits(ROOT / data["source"], seed=data["split"]["seed"],
                                   log=lambda line: None)
    good = [(text.encode(), "text/plain") if index % 2 else
            (json.dumps({"text": text}).encode(), JSON)
            for index, text in enumerate(splits.test_texts[:size])]
    bad = [(b"x" * 1001, "text/plain"), (b'{"txt": "fine"}', JSON)]
    return good, bad


def digits_gan_bodies(checkpoint, size):
    """Random digits, 1 to 4 images each, with fixed seeds; the bad ones ask for digit 10 or 0 images."""
    pick = random.Random(0)
    good = [(json.dumps({"digit": pick.randrange(10), "count": pick.randint(1, 4),
                         "seed": pick.randrange(2**32)}).encode(), JSON) for _ in range(size)]
    bad = [(b'{"digit": 10}', JSON), (b'{"digit": 3, "count": 0}', JSON)]
    return good, bad


def diabetes_mlp_bodies(checkpoint, size):
    """Test-split patients, one record or a list of up to 20; the bad ones hold a string or miss a field."""
    splits = load_diabetes_splits(seed=checkpoint["data"]["split"]["seed"], log=lambda line: None)
    records = [dict(zip(FEATURES, row)) for row in splits.test_x.tolist()]
    pick = random.Random(0)
    good = [(json.dumps(records[index % len(records)] if index % 4 else
                        pick.sample(records, pick.randint(2, 20))).encode(), JSON)
            for index in range(size)]
    bad = [(json.dumps({**records[0], "age": "old"}).encode(), JSON),
           (json.dumps({k: v for k, v in records[0].items() if k != "bmi"}).encode(), JSON)]
    return good, bad


BODIES = {"digits_cnn": digits_cnn_bodies, "sentiment_rnn": sentiment_rnn_bodies,
          "digits_gan": digits_gan_bodies, "diabetes_mlp": diabetes_mlp_bodies}


def calls_for(model, checkpoints=CHECKPOINTS, size=60):
    """Model → (good calls, bad calls), each with its in-process answer and status."""
    if model not in BODIES:
        raise KeyError(f"reliability.mix has no requests for {model}: add {model}_bodies to BODIES")
    checkpoint = load_checkpoint(Path(checkpoints) / model / "model.pt")
    handler = handler_class(model)(checkpoint)
    good, bad = BODIES[model](checkpoint, size)
    return ([call for call in expect(handler, model, good) if on_no_fence(call)],
            expect(handler, model, bad))


def expect(handler, model, bodies) -> list:
    """(body, content type) pairs → Calls carrying the handler's answer to each, computed one by one."""
    calls = []
    for body, content_type in bodies:
        [answer] = handler.handle([Request(body, content_type)])
        calls.append(Call(model, body, content_type, answer.status,
                          json.loads(answer.to_bytes()), TOLERANCE[model]))
    return calls


def on_no_fence(call: Call) -> bool:
    """Whether a sentiment answer is far enough from 0.5 for its label to be exact (other calls: True)."""
    if call.model != "sentiment_rnn" or call.status != 200:
        return True
    return call.answer["probability"] >= 0.5 + LABEL_MARGIN


def mixed_calls(models, count, bad_share=0.05, checkpoints=CHECKPOINTS, seed=0) -> list:
    """`count` calls spread evenly over `models`, a `bad_share` of them bad, in a seeded random order."""
    pools = {model: calls_for(model, checkpoints) for model in models}
    pick = random.Random(seed)
    calls = []
    for index in range(count):
        good, bad = pools[models[index % len(models)]]
        calls.append(pick.choice(bad if pick.random() < bad_share else good))
    pick.shuffle(calls)
    return calls
