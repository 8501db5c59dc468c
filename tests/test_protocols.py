"""KServe v1 and v2 bodies on every family: read per request, answered in their own protocol,
batched with plain requests; in process and on a real TorchServe at /predictions/<model>."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from handlers import handler_class
from handlers.messages import Request
from handlers.protocols import PLAIN, open_envelope
from tests.calls import post
from tests.protocol_bodies import (bad_instance, handle, plain_examples, v1_body, v2_body,
                                   v2_expected, wrong_datatype, wrong_shape)
from tests.under_test import MODELS

# In process: the protocol layer over each family's handler.

@pytest.fixture(scope="module")
def handlers(checkpoint_dir):
    return {model: handler_class(model).from_checkpoint_file(checkpoint_dir / model / "model.pt")
            for model in MODELS}


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


# On a real TorchServe, made to batch: /predictions/<model> with v1 and v2 bodies.

# conftest's batching_server batches up to 8 requests, waiting 200 ms for them.

@pytest.mark.parametrize("model", MODELS)
def test_torchserve_answers_a_batch_mixing_protocols_each_in_its_own(batching_server, model):
    plain = [post(batching_server, model, body).json() for body in plain_examples(model)]
    mark = batching_server.log_mark()  # the server is shared: count only the batches below
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
    assert batching_server.largest_batch(model, since=mark) >= 3
