"""KServe v1 and v2 bodies on every family: read per request, answered in their own protocol,
batched with plain requests; in process and on a real TorchServe at /predictions/<model>."""

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from handlers import handler_class
from handlers.messages import Request
from handlers.protocols import MAX_EXAMPLES, PLAIN, V1, V2, open_envelope
from models.diabetes_mlp import FEATURES
from tests.conftest import MODELS, start_batching_server
from harness.torchserve import HTTP_TIMEOUT, bearer

ROOT = Path(__file__).resolve().parent.parent
IMAGE = base64.b64encode((ROOT / "samples" / "digit_3.png").read_bytes()).decode("ascii")
REVIEW = (ROOT / "samples" / "review.txt").read_text()
PATIENT = json.loads((ROOT / "samples" / "patient.json").read_text())
DRAWING = {"digit": 7, "count": 4, "seed": 123}


# Each family's plain JSON example, its v1 instances and its v2 inputs for two examples, and
# the v2 outputs expected from the plain answers of those two examples.

def plain_examples(model) -> list:
    """Two plain JSON bodies for `model`."""
    return {
        "digits_cnn": [{"image": IMAGE}, {"image": IMAGE}],
        "sentiment_rnn": [{"text": REVIEW}, {"text": "awful service, never again"}],
        "digits_gan": [DRAWING, {"digit": 3, "count": 4, "seed": 9}],
        "diabetes_mlp": [PATIENT, {**PATIENT, "age": 30, "bmi": 21.5}],
    }[model]


def v1_body(model) -> dict:
    """The two plain examples as v1 instances, in each family's v1 spellings."""
    first, second = plain_examples(model)
    if model == "digits_cnn":
        return {"instances": [first, {"b64": second["image"]}]}  # KServe's bytes convention
    if model == "sentiment_rnn":
        return {"instances": [first["text"], second]}  # a bare string is the text
    return {"instances": [first, second]}


def v2_body(model, request_id="req-1") -> dict:
    """The two plain examples as one v2 request."""
    first, second = plain_examples(model)
    if model == "digits_cnn":
        inputs = [tensor("image", [2], "BYTES", [first["image"], second["image"]])]
    elif model == "sentiment_rnn":
        inputs = [tensor("text", [2], "BYTES", [first["text"], second["text"]])]
    elif model == "digits_gan":
        inputs = [tensor(name, [2], "INT64", [first[name], second[name]])
                  for name in ("digit", "count", "seed")]
    else:
        inputs = [tensor("features", [2, 10], "FP64",
                         [[example[name] for name in FEATURES] for example in (first, second)])]
    return {"id": request_id, "inputs": inputs}


def tensor(name, shape, datatype, data) -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def v2_expected(model, plain_answers, request_id="req-1") -> dict:
    """The v2 answer the two plain answers make, as the family's v2 declaration promises."""
    first, second = plain_answers
    if model == "digits_cnn":
        outputs = [
            tensor("label", [2], "BYTES", [first["label"], second["label"]]),
            tensor("probability", [2], "FP32", [first["probability"], second["probability"]]),
            tensor("top_k_label", [2, 3], "BYTES",
                   [entry["label"] for answer in plain_answers for entry in answer["top_k"]]),
            tensor("top_k_probability", [2, 3], "FP32",
                   [entry["probability"] for answer in plain_answers for entry in answer["top_k"]]),
        ]
    elif model == "sentiment_rnn":
        outputs = [
            tensor("label", [2], "BYTES", [first["label"], second["label"]]),
            tensor("probability", [2], "FP32", [first["probability"], second["probability"]]),
        ]
    elif model == "digits_gan":
        outputs = [tensor("digit", [2], "INT64", [first["digit"], second["digit"]]),
                   tensor("seed", [2], "INT64", [first["seed"], second["seed"]]),
                   tensor("images", [2, 4], "BYTES", first["images"] + second["images"])]
    else:
        outputs = [tensor("prediction", [2], "FP64", [first["prediction"], second["prediction"]])]
    return {"model_name": model, "model_version": "1.0", "id": request_id, "outputs": outputs}


def wrong_datatype(model) -> tuple:
    """A v2 body of `model` with one input in a datatype it does not read → (body, message)."""
    body = v2_body(model)
    body["inputs"][0]["datatype"] = "BOOL"
    return body, f'input "{body["inputs"][0]["name"]}" has datatype BOOL; send '


def wrong_shape(model) -> tuple:
    """A v2 body of `model` with a shape that does not fit → (body, message)."""
    body = v2_body(model)
    first = body["inputs"][0]
    first["shape"] = [2, 9] if model == "diabetes_mlp" else [2, 1, 1]
    return body, f'input "{first["name"]}" has shape {first["shape"]}; expected [N'


def bad_instance(model) -> tuple:
    """A v1 body of `model` whose instance 1 is bad → (body, message)."""
    return {"instances": [plain_examples(model)[0], {"nonsense": 1}]}, "instance 1: "


# In process: the protocol layer over each family's handler.

@pytest.fixture(scope="module")
def handlers(checkpoint_dir):
    return {model: handler_class(model).from_checkpoint_file(checkpoint_dir / model / "model.pt")
            for model in MODELS}


def handle(handler, *bodies):
    """Bodies (JSON values, or (bytes, content type)) → [(status, body)] from one handle()."""
    requests_ = [Request(*body) if isinstance(body, tuple) else
                 Request(json.dumps(body).encode(), "application/json") for body in bodies]
    return [(answer.status, answer.body) for answer in handler.handle(requests_)]


def test_no_family_reads_the_envelope_keys_as_its_own_fields(handlers):
    # The plain JSON of every family stays plain: its fields never are "instances" or "inputs".
    for model, handler in handlers.items():
        for example in plain_examples(model):
            request = Request(json.dumps(example).encode(), "application/json")
            assert open_envelope(request, handler).protocol == PLAIN
            assert not {"instances", "inputs"} & set(example)


@pytest.mark.parametrize("model", MODELS)
def test_v1_and_v2_answers_are_the_plain_answers_in_their_protocol(handlers, model):
    handler = handlers[model]
    plain = [body for _, body in handle(handler, *plain_examples(model))]
    (v1_status, v1), (v2_status, v2) = handle(handler, v1_body(model), v2_body(model))
    assert (v1_status, v2_status) == (200, 200), (v1, v2)
    assert v1 == {"predictions": plain}
    assert v2 == v2_expected(model, plain)


@pytest.mark.parametrize("model", MODELS)
def test_one_answer_call_serves_every_example_of_a_mixed_batch(handlers, model):
    handler = handlers[model]
    calls = []
    original = handler.answer

    def counting_answer(requests_):
        calls.append(len(requests_))
        return original(requests_)

    handler.answer = counting_answer
    try:
        results = handle(handler, plain_examples(model)[0], v1_body(model), v2_body(model),
                         wrong_datatype(model)[0], bad_instance(model)[0])
    finally:
        del handler.answer
    # 1 plain + 2 v1 + 2 v2 + 2 from the v1 with a bad instance; the bad v2 never reaches it.
    assert calls == [7]
    statuses = [status for status, _ in results]
    assert statuses == [200, 200, 200, 400, 400]
    assert set(results[1][1]) == {"predictions"} and set(results[2][1]) >= {"outputs"}
    assert results[3][1]["error"].startswith(wrong_datatype(model)[1])
    assert results[4][1]["error"].startswith("instance 1: ")


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
def test_a_bad_v2_request_is_a_400_naming_the_problem(handlers, body, message):
    [(status, answer)] = handle(handlers["digits_gan"], body)
    assert status == 400
    assert set(answer) == {"error"} and answer["error"].startswith(message), answer


V1_REFUSALS = [  # (sentiment_rnn body, the message it must start with)
    ({"instances": "good"}, '"instances" must be a list, not a string'),
    ({"instances": []}, '"instances" is empty; send from 1 to 1,000 examples'),
    ({"instances": ["good", 5]}, "instance 1: JSON body must be an object like"),
    ({"instances": ["good", {"b64": "%%"}]}, 'instance 1: "b64" is not valid base64'),
    ({"instances": ["good", " "]}, "instance 1: text is empty or only white space"),
]


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
@pytest.mark.parametrize("body,message", V1_REFUSALS)
def test_a_bad_v1_request_is_a_400_naming_the_instance(handlers, body, message):
    [(status, answer)] = handle(handlers["sentiment_rnn"], body)
    assert status == 400
    assert set(answer) == {"error"} and answer["error"].startswith(message), answer


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
def test_only_json_bodies_with_exactly_the_envelope_keys_are_envelopes(handlers):
    handler = handlers["sentiment_rnn"]
    envelope = json.dumps({"instances": ["good"]}).encode()
    kinds = {
        (envelope, "application/json"): V1,
        (envelope, None): V1,  # JSON by its first character, as the families read it
        (envelope, "text/plain"): PLAIN,  # text is the review, whatever it looks like
        (json.dumps({"instances": ["good"], "text": "x"}).encode(), "application/json"): PLAIN,
        (json.dumps({"inputs": [], "id": "1", "parameters": {}}).encode(), "application/json"): V2,
        (b'{"instances": [', "application/json"): PLAIN,  # malformed: the family names it
    }
    for (body, content_type), protocol in kinds.items():
        assert open_envelope(Request(body, content_type), handler).protocol == protocol, body
    # A review that looks like an envelope is still a review when sent as text.
    [(status, answer)] = handle(handler, (envelope, "text/plain"))
    assert status == 200 and set(answer) == {"label", "probability"}
    [(status, answer)] = handle(handler, (b'{"instances": [', "application/json"))
    assert status == 400 and answer["message"].startswith("malformed JSON")


@pytest.mark.skipif("sentiment_rnn" not in MODELS, reason="TEST_MODELS leaves out sentiment_rnn")
def test_v1_explanations_come_as_a_list_and_v2_has_none(handlers):
    handler = handlers["sentiment_rnn"]
    v1 = json.dumps({"instances": ["great camera", "awful"]}).encode()
    v2 = json.dumps(v2_body("sentiment_rnn")).encode()
    (v1_status, explained), (v2_status, refused) = [
        (answer.status, answer.body) for answer in handler.handle(
            [Request(v1, "application/json", explain=True),
             Request(v2, "application/json", explain=True)])]
    assert v1_status == 200 and len(explained["explanations"]) == 2
    assert [e["label"] for e in explained["explanations"]] == ["positive", "negative"]
    assert (v2_status, refused) == (400, {"error": "the v2 protocol has no explanations; send a "
                                                   "plain or v1 body"})


@pytest.mark.skipif("digits_gan" not in MODELS, reason="TEST_MODELS leaves out digits_gan")
def test_v2_answers_only_the_outputs_asked_for_and_nested_data_is_read_row_major(handlers):
    body = {"id": "x", "inputs": [tensor("digit", [2], "INT32", [[4], [5]])],
            "outputs": [{"name": "digit"}]}
    [(status, answer)] = handle(handlers["digits_gan"], body)
    assert status == 200, answer
    assert answer["outputs"] == [tensor("digit", [2], "INT64", [4, 5])]


# On a real TorchServe, made to batch: /predictions/<model> with v1 and v2 bodies.

BATCH_DELAY_MS = 200  # long enough for concurrent requests to share a batch


@pytest.fixture(scope="module")
def batching_server(checkpoint_dir, tmp_path_factory):
    """A TorchServe whose models batch up to 8 requests waiting BATCH_DELAY_MS, one worker each."""
    running = start_batching_server(checkpoint_dir, tmp_path_factory, 8, BATCH_DELAY_MS)
    yield running
    running.stop()


def post(server, model, body, content_type="application/json"):
    """POST a JSON value (or raw bytes) to TorchServe's /predictions/<model> → the response."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {**bearer(server.inference_key()), "Content-Type": content_type}
    return requests.post(f"{server.inference_url}/predictions/{model}", data=data,
                         headers=headers, timeout=HTTP_TIMEOUT)


@pytest.mark.parametrize("model", MODELS)
def test_torchserve_answers_a_batch_mixing_protocols_each_in_its_own(batching_server, model):
    plain = [post(batching_server, model, body).json() for body in plain_examples(model)]
    mixed = [plain_examples(model)[0], v1_body(model), v2_body(model), wrong_datatype(model)[0],
             wrong_shape(model)[0], bad_instance(model)[0]]
    with ThreadPoolExecutor(max_workers=len(mixed)) as pool:
        responses = list(pool.map(lambda body: post(batching_server, model, body), mixed))
    for response in responses:
        assert response.headers["Content-Type"].startswith("application/json")
    assert [r.status_code for r in responses] == [200, 200, 200, 400, 400, 400], \
        [r.text[:200] for r in responses]
    assert responses[0].json() == plain[0]
    assert responses[1].json() == {"predictions": plain}
    assert responses[2].json() == v2_expected(model, plain)
    for response, (_, message) in zip(responses[3:], (wrong_datatype(model), wrong_shape(model),
                                                      bad_instance(model))):
        assert set(response.json()) == {"error"}
        assert response.json()["error"].startswith(message), response.text
    # The six requests really shared worker calls, v1 and v2 ones included.
    assert batching_server.largest_batch(model) >= 3


@pytest.mark.skipif("digits_cnn" not in MODELS, reason="TEST_MODELS leaves out digits_cnn")
def test_torchserve_answers_a_raw_image_beside_v1_and_v2_bodies(batching_server):
    png = (ROOT / "samples" / "digit_3.png").read_bytes()
    with ThreadPoolExecutor(max_workers=3) as pool:
        raw, v1, v2 = pool.map(lambda args: post(batching_server, "digits_cnn", *args),
                               [(png, "image/png"), ({"instances": [{"b64": IMAGE}]},),
                                (v2_body("digits_cnn"),)])
    assert (raw.status_code, v1.status_code, v2.status_code) == (200, 200, 200)
    assert v1.json() == {"predictions": [raw.json()]}
    assert v2.json()["outputs"][0] == tensor("label", [2], "BYTES", ["3", "3"])
