"""The tests' one way to send a request to a served model."""

import json


def post(server, model, body, content_type="application/json", **options):
    """A body (bytes or text as they are, any other value as JSON) to /predictions/<model> of a
    TorchServe → its response; `options` as TorchServe.predict takes them (key, headers, …)."""
    data = body if isinstance(body, (bytes, bytearray, str)) else json.dumps(body).encode()
    return server.predict(model, data, content_type, **options)


def assert_invalid_input(response, message):
    """A response is TorchServe's 400 for bad input: a JSON InvalidInput error whose message
    holds `message`."""
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    assert error["code"] == 400 and error["type"] == "InvalidInput"
    assert message in error["message"]
