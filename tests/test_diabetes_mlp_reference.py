"""The diabetes_mlp handler against the one it replaced (bench/handlers_before/diabetes_mlp.py):
on test-split patients and on a seeded mix of near misses, in batches as the server forms them,
the same answer to every request, every refusal in the same words."""

import json
import random

from families.diabetes_mlp import bodies
from handlers.messages import Request
from models.checkpoint import load_checkpoint
from models.diabetes_mlp import FEATURES
from tests.in_process import assert_answers_unchanged

BATCH_SIZE = 32  # model-config's batchSize
# Values a field may hold instead of a measurement, in JSON as a client writes it.
ODD_VALUES = ['"59"', "true", "false", "null", "NaN", "Infinity", "-Infinity", "1e400", "-1e400",
              "1000000", "1000000.0", "1000001", "-1000000", "-1000000.5", "1e-320", "-0.0", "0",
              "99999999999999999999", "9" * 400, '{"mg/dL": 157}', "[93.2]", "[]", "{}"]


def record_text(rng, record) -> str:
    """A record as JSON text, now and then with one field spoilt, missing, doubled or foreign."""
    fields = {name: json.dumps(value) for name, value in record.items()}
    spoil = rng.random()
    if spoil < 0.3:
        fields[rng.choice(FEATURES)] = rng.choice(ODD_VALUES)
    elif spoil < 0.35:
        del fields[rng.choice(FEATURES)]
    elif spoil < 0.4:
        fields["weight"] = "80"
    text = "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"
    if spoil > 0.97:  # the same field twice: JSON keeps the last
        text = text[:-1] + f', "age": {rng.choice(ODD_VALUES)}' + "}"
    return text


def near_misses(records, count, seed=0) -> list:
    """Bodies like a client's: one record, a list of them, white space around, envelopes, and the
    odd broken one."""
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.6:
            text = record_text(rng, rng.choice(records))
        elif kind < 0.85:
            text = "[" + ", ".join(record_text(rng, rng.choice(records))
                                   for _ in range(rng.randint(0, 4))) + "]"
        elif kind < 0.9:
            text = '{"instances": [' + record_text(rng, rng.choice(records)) + "]}"
        else:
            text = rng.choice([" \n" + record_text(rng, rng.choice(records)) + "\n",
                               record_text(rng, rng.choice(records))[:-3], "", "[" * 50, "42",
                               '"text"', "null", record_text(rng, rng.choice(records)) + " x"])
        texts.append(text.encode())
    return texts


def test_answers_and_refusals_are_the_replaced_handlers(checkpoint_dir):
    good, bad = bodies(load_checkpoint(checkpoint_dir / "diabetes_mlp" / "model.pt"), 200)
    records = [json.loads(body) for body, _ in good if body.startswith(b"{")]
    requests = [Request(body, content_type) for body, content_type in good + bad]
    requests += [Request(body, "application/json") for body in near_misses(records, 1500)]
    requests += [Request(json.loads(body), "application/json", parsed=True)  # as TorchServe parses
                 for body, _ in good[:100]]
    assert_answers_unchanged("diabetes_mlp", checkpoint_dir, requests, BATCH_SIZE)
