"""What the explanation tests share: the README's completeness promise, and one way to ask a real
TorchServe for an explanation or a prediction."""

import requests

from harness.torchserve import bearer

EXPLAIN = {"explain": "True"}  # the request header TorchServe sets for /explanations
COMPLETENESS = 0.05  # the README's promise: the sum is the output difference within 5%
# Attributions are rounded to 6 decimals; below this the output difference is noise.
SMALL_DIFFERENCE = 1e-3
# Generous: 256-token explanations take seconds on a busy CI machine.
EXPLAIN_TIMEOUT = 120


def complete(total, difference):
    """Whether an attribution sum equals the output difference within COMPLETENESS."""
    return abs(total - difference) <= max(COMPLETENESS * abs(difference), SMALL_DIFFERENCE)


def post(server, endpoint, model, body, content_type, timeout=EXPLAIN_TIMEOUT):
    """A body to /<endpoint>/<model> ("explanations" or "predictions") → the response."""
    return requests.post(f"{server.inference_url}/{endpoint}/{model}", data=body,
                         headers={"Content-Type": content_type, **bearer(server.inference_key())},
                         timeout=timeout)
