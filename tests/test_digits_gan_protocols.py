"""digits_gan in KServe's v2 protocol, in process: each bad request refused naming its problem,
and only the outputs asked for answered."""

import pytest

from handlers import handler_class
from handlers.protocols import MAX_EXAMPLES
from harness.examples import tensor
from tests.protocol_bodies import handle
from tests.under_test import MODELS


@pytest.fixture(scope="module")
def handler(checkpoint_dir):
    path = checkpoint_dir / "digits_gan" / "model.pt"
    return handler_class("digits_gan").from_checkpoint_file(path)


def digits_v2(**changes) -> dict:
    return {"inputs": [{**tensor("digit", [1], "INT64", [7]), **changes}]}


V2_REFUSALS = [  # (digits_gan body, the message it must start with)
    (digits_v2(datatype="FP32"), 'input "digit" has datatype FP32; send INT64 or INT32'),
    (digits_v2(shape=[1, 1]), 'input "digit" has shape [1, 1]; expected [N], N examples'),
    (digits_v2(shape=[2]), 'input "digit" has 1 values; its shape [2] holds 2'),
    (digits_v2(data=["7"]), 'input "digit": value 0 must be an integer from -9223372036854775808'),
    (digits_v2(data=[2**63]), 'input "digit": value 0 must be an integer from'),
    (digits_v2(datatype="INT32", data=[2**31]), 'input "digit": value 0 must be an integer from'),
    (digits_v2(name="digits"), 'unknown input "digits"; this model reads "digit", "count", "seed"'),
    (digits_v2(data=[]), 'input "digit" has 0 values; its shape [1] holds 1'),
    ({"inputs": [tensor("digit", [0], "INT64", [])]}, "the batch is empty"),
    ({"inputs": [tensor("seed", [1], "INT64", [1])]}, "missing input(s) digit; this model reads"),
    ({"inputs": [tensor("digit", [1], "INT64", [7]), tensor("seed", [2], "INT64", [1, 2])]},
     'inputs disagree on the batch size (first dimension): "digit" has 1, "seed" has 2'),
    ({"inputs": [tensor("digit", [1], "INT64", [7])] * 2}, 'input "digit" is sent twice'),
    ({"inputs": [{"name": "digit", "shape": [1], "data": [7]}]},
     "input 0 is missing field(s): datatype"),
    ({"inputs": []}, '"inputs" must be a non-empty list of tensors'),
    ({"inputs": [tensor("digit", [1], "INT64", [7])], "id": 5},
     '"id" must be a string, not a number'),
    ({"inputs": [tensor("digit", [1], "INT64", [7])], "outputs": [{"name": "pictures"}]},
     "unknown output(s) pictures; this model answers digit, seed, images"),
    ({"inputs": [tensor("digit", [MAX_EXAMPLES + 1], "INT64", [1] * (MAX_EXAMPLES + 1))]},
     f"the batch holds {MAX_EXAMPLES + 1:,} examples; the limit is {MAX_EXAMPLES:,}"),
    ({"inputs": [tensor("digit", [1], "INT64", [12])]},
     'example 0: "digit" must be from 0 to 9, not 12'),
    ({"inputs": [tensor("digit", [2], "INT64", [1, 2]), tensor("count", [2], "INT64", [1, 2])]},
     'output "images" has a different shape in different examples ([1], [2])'),
]


@pytest.mark.skipif("digits_gan" not in MODELS, reason="TEST_MODELS leaves out digits_gan")
@pytest.mark.parametrize("body,message", V2_REFUSALS)
def test_a_bad_v2_request_is_a_400_naming_the_problem(handler, body, message):
    [(status, answer)] = handle(handler, body)
    assert status == 400
    assert set(answer) == {"error"} and answer["error"].startswith(message), answer


@pytest.mark.skipif("digits_gan" not in MODELS, reason="TEST_MODELS leaves out digits_gan")
def test_v2_answers_only_the_outputs_asked_for_and_nested_data_is_read_row_major(handler):
    body = {"id": "x", "inputs": [tensor("digit", [2], "INT32", [[4], [5]])],
            "outputs": [{"name": "digit"}]}
    [(status, answer)] = handle(handler, body)
    assert status == 200, answer
    assert answer["outputs"] == [tensor("digit", [2], "INT64", [4, 5])]
