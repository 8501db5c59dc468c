"""The digits_gan handler in-process, through the TorchServe adapter and TorchServe's own context objects."""

import base64
import io
import json

import pytest
import torch
from PIL import Image

from handlers.digits_gan import RANDOM_SEED_LIMIT, DigitsGANHandler
from handlers.messages import Request
from models.checkpoint import build_model, load_checkpoint
from models.digits_gan import MAX_SEED, generate_pngs
from tests.in_process import InProcessHandler


@pytest.fixture(scope="module")
def served(checkpoint_dir, tmp_path_factory):
    return InProcessHandler("digits_gan", checkpoint_dir, tmp_path_factory)


def ask(served, body):
    """One JSON request as TorchServe hands it over (already decoded) → (status, answer)."""
    [result] = served.run([{"body": body, "_content_types": {"body": "application/json"}}])
    return result


def test_initialize_places_the_generator_on_the_cpu_in_eval_mode(served):
    assert served.adapter.initialized
    assert served.handler.device == torch.device("cpu")
    assert next(served.handler.model.parameters()).device.type == "cpu"
    assert not served.handler.model.training


def test_answer_holds_the_digit_the_seed_and_count_8x8_pngs(served):
    status, answer = ask(served, {"digit": 7, "count": 4, "seed": 123})
    assert status == 200
    assert set(answer) == {"digit", "seed", "images"}
    assert answer["digit"] == 7 and answer["seed"] == 123 and len(answer["images"]) == 4
    for encoded in answer["images"]:
        image = Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))
        assert image.format == "PNG" and image.size == (8, 8) and image.mode == "L"
    assert len(set(answer["images"])) == 4  # four different sevens


def test_served_images_are_generate_pngs_of_the_checkpoint(served, checkpoint_dir):
    generator = build_model(load_checkpoint(checkpoint_dir / "digits_gan" / "model.pt"))
    _, answer = ask(served, {"digit": 3, "count": 5, "seed": 99})
    assert [base64.b64decode(i) for i in answer["images"]] == generate_pngs(generator, 3, 5, 99)


def test_count_defaults_to_one_and_a_missing_seed_is_picked_and_returned(served):
    status, answer = ask(served, {"digit": 2})
    assert status == 200 and len(answer["images"]) == 1
    seed = answer["seed"]
    assert isinstance(seed, int) and 0 <= seed < RANDOM_SEED_LIMIT
    _, again = ask(served, {"digit": 2, "seed": seed})
    assert again["images"] == answer["images"]  # the returned seed reproduces the answer
    _, other = ask(served, {"digit": 2})
    assert other["seed"] != seed


def test_the_same_seed_gives_the_same_bytes_whatever_shares_the_batch(served):
    request = {"digit": 5, "count": 6, "seed": 2024}
    [(_, alone)] = served.run([{"body": dict(request)}])
    others = [{"body": {"digit": d, "count": c, "seed": s}}
              for d, c, s in ((0, 16, 1), (5, 3, 2025), (9, 1, 7))]
    for position in range(4):
        rows = [dict(row) for row in others]
        rows.insert(position, {"body": dict(request)})
        results = served.run(rows)
        assert results[position] == (200, alone)
    # Different seeds, counts and digits do differ.
    assert len({tuple(answer["images"]) for _, answer in results}) == 4


def test_inference_gives_each_image_the_exact_pixels_it_gets_alone(served):
    handler = served.handler
    requests = [{"digit": d, "count": c, "seed": s} for d, c, s in ((5, 6, 2024), (0, 16, 1),
                                                                    (9, 1, 7), (3, 11, 12))]
    inputs = [handler.preprocess(request) for request in requests]
    with torch.inference_mode():
        together = handler.inference(handler.collate(inputs))
        alone = torch.cat([handler.inference(handler.collate([one])) for one in inputs])
        rows = torch.cat([handler.inference((noise[i:i + 1], labels[i:i + 1]))
                          for noise, labels in inputs for i in range(len(labels))])
    assert torch.equal(together, alone) and torch.equal(together, rows)


def test_every_body_form_gives_the_same_answer(served):
    body = {"digit": 4, "count": 2, "seed": 11}
    text = json.dumps(body)
    rows = [
        {"body": dict(body), "_content_types": {"body": "application/json"}},
        {"body": text.encode()},  # JSON TorchServe did not decode
        {"body": text, "_content_types": {"body": "text/plain"}},
        {"data": text.encode()},
    ]
    results = served.run(rows)
    assert {status for status, _ in results} == {200}
    assert all(answer == results[0][1] for _, answer in results)


BAD_INPUTS = {
    "empty body": (b"", "empty request body"),
    "malformed JSON": (b'{"digit": 7', "malformed JSON"),
    "not JSON at all": (b"\x89PNG\r\n\x1a\n", "JSON body is not valid UTF-8"),
    "plain words": (b"seven please", "malformed JSON"),
    "huge number": (b'{"digit": 1' + b"0" * 5000 + b"}", "malformed JSON"),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, "malformed JSON"),
    "array": ([7], "JSON body must be an object"),
    "number": (7, "JSON body must be an object"),
    "string": (b'"seven"', "JSON body must be an object"),
    "null": (None, "must be an object like {\"digit\": 7, \"count\": 4, \"seed\": 123}, not null"),
    "no digit": ({"count": 2}, "is missing field(s): digit"),
    "unknown field": ({"digit": 7, "colour": "red"}, "has unknown field(s): colour"),
    "digit too big": ({"digit": 10}, '"digit" must be from 0 to 9, not 10'),
    "digit negative": ({"digit": -1}, '"digit" must be from 0 to 9, not -1'),
    "digit string": ({"digit": "7"}, '"digit" must be an integer from 0 to 9, not a string'),
    "digit float": ({"digit": 7.5}, '"digit" must be an integer from 0 to 9, not 7.5'),
    "digit whole float": ({"digit": 7.0}, '"digit" must be an integer from 0 to 9, not 7.0'),
    "digit boolean": ({"digit": True}, '"digit" must be an integer from 0 to 9, not true'),
    "digit null": ({"digit": None}, '"digit" must be an integer from 0 to 9, not null'),
    "digit array": ({"digit": [7]}, '"digit" must be an integer from 0 to 9, not an array'),
    "count zero": ({"digit": 7, "count": 0}, '"count" must be from 1 to 16, not 0'),
    "count too big": ({"digit": 7, "count": 17}, '"count" must be from 1 to 16, not 17'),
    "count float": ({"digit": 7, "count": 2.5}, '"count" must be an integer from 1 to 16'),
    "count string": ({"digit": 7, "count": "4"}, '"count" must be an integer from 1 to 16'),
    "count boolean": ({"digit": 7, "count": False}, '"count" must be an integer from 1 to 16'),
    "count null": ({"digit": 7, "count": None}, '"count" must be an integer from 1 to 16'),
    "seed negative": ({"digit": 7, "seed": -1}, '"seed" must be from 0 to 9223372036854775807'),
    "seed too big": ({"digit": 7, "seed": MAX_SEED + 1}, '"seed" must be from 0 to'),
    "seed float": ({"digit": 7, "seed": 1.5}, '"seed" must be an integer from 0 to'),
    "seed string": ({"digit": 7, "seed": "123"}, '"seed" must be an integer from 0 to'),
    "seed boolean": ({"digit": 7, "seed": True}, '"seed" must be an integer from 0 to'),
    "seed null": ({"digit": 7, "seed": None}, '"seed" must be an integer from 0 to'),
    "seed huge": ({"digit": 7, "seed": 10**100}, "not a 101-digit number"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_answers_400_naming_the_problem(served, case):
    body, expected = BAD_INPUTS[case]
    status, answer = ask(served, body)
    assert status == 400
    assert answer["code"] == 400 and answer["type"] == "InvalidInput"
    assert expected in answer["message"]
    assert len(answer["message"]) < 300  # never echoes a huge body back


def test_the_largest_seed_and_count_are_accepted(served):
    status, answer = ask(served, {"digit": 9, "count": 16, "seed": MAX_SEED})
    assert status == 200 and answer["seed"] == MAX_SEED and len(answer["images"]) == 16


def test_bad_requests_in_a_batch_do_not_fail_the_good_ones(served):
    good = [{"digit": d, "count": 1 + d % 3, "seed": 500 + d} for d in range(10)]
    rows = [{"body": dict(body)} for body in good]
    rows.insert(2, {"body": {"digit": 7.5}})
    rows.insert(5, {"body": b"not json"})
    rows.insert(9, {"body": {"digit": 3, "count": 99}})
    results = served.run(rows)
    assert [i for i, (status, _) in enumerate(results) if status == 400] == [2, 5, 9]
    answers = [answer for status, answer in results if status == 200]
    expected = [ask(served, body)[1] for body in good]
    assert answers == expected


def test_a_handler_for_another_family_refuses_the_checkpoint(checkpoint_dir):
    with pytest.raises(ValueError, match="serves 'digits_gan'"):
        DigitsGANHandler.from_checkpoint_file(checkpoint_dir / "digits_cnn" / "model.pt")


def test_handle_without_torchserve_matches_the_adapter(served, checkpoint_dir):
    handler = DigitsGANHandler.from_checkpoint_file(checkpoint_dir / "digits_gan" / "model.pt")
    [answer] = handler.handle([Request({"digit": 6, "count": 3, "seed": 8})])
    assert (answer.status, answer.body) == ask(served, {"digit": 6, "count": 3, "seed": 8})
