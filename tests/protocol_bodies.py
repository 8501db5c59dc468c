"""Each family's two plain examples in KServe's v1 and v2 protocols, from families/<family>.py, and
the answers they must get (shared by the protocol, kserve bundle and kserve server tests)."""

import json

from handlers.messages import Request
from harness.examples import hook


def plain_examples(model) -> list:
    """Two plain JSON bodies for `model`."""
    return hook(model, "plain_examples")()


def v1_body(model) -> dict:
    """The two plain examples as v1 instances, in the family's v1 spellings."""
    instances = hook(model, "v1_instances", lambda first, second: [first, second])
    return {"instances": instances(*plain_examples(model))}


def v2_body(model, request_id="req-1") -> dict:
    """The two plain examples as one v2 request."""
    return {"id": request_id, "inputs": hook(model, "v2_inputs")(*plain_examples(model))}


def v2_expected(model, plain_answers, request_id="req-1") -> dict:
    """The v2 answer the two plain answers make, as the family's v2 declaration promises."""
    return {"model_name": model, "model_version": "1.0", "id": request_id,
            "outputs": hook(model, "v2_outputs")(*plain_answers)}


def wrong_datatype(model) -> tuple:
    """A v2 body of `model` with one input in a datatype it does not read → (body, message)."""
    body = v2_body(model)
    body["inputs"][0]["datatype"] = "BOOL"
    return body, f'input "{body["inputs"][0]["name"]}" has datatype BOOL; send '


def wrong_shape(model) -> tuple:
    """A v2 body of `model` with a shape that does not fit → (body, message)."""
    body = v2_body(model)
    first = body["inputs"][0]
    first["shape"] = hook(model, "V2_WRONG_SHAPE", [2, 1, 1])
    return body, f'input "{first["name"]}" has shape {first["shape"]}; expected [N'


def bad_instance(model) -> tuple:
    """A v1 body of `model` whose instance 1 is bad → (body, message)."""
    return {"instances": [plain_examples(model)[0], {"nonsense": 1}]}, "instance 1: "


def handle(handler, *bodies):
    """Bodies (JSON values, or (bytes, content type)) → [(status, body)] from one handle()."""
    requests_ = [Request(*body) if isinstance(body, tuple) else
                 Request(json.dumps(body).encode(), "application/json") for body in bodies]
    return [(answer.status, answer.body) for answer in handler.handle(requests_)]

