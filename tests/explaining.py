"""What the explanation tests share: the README's completeness promise, and one way to ask a real
TorchServe for an explanation or a prediction."""

import requests

from harness.torchserve import bearer

EXPLAIN = {"explain": "True"}  # the request header TorchServe sets for /explanations
COMPLETENESS = 0.05  # the README's promise: the sum is the output difference within 5%
# Attributions are rounded to 6 decimals; below this the output difference is noise.
SMALL_DIFFERENCE = 1e-3
# Where attributions for and against the label nearly cancel, the output difference is a
# small remainder of large terms, and 5% of it asks more than the path integral's error can
# give: that error scales with the attributions themselves. A digits_cnn trained on an
# AVX-512 machine left 2 of its 270 test digits (differences of 0.02 and 0.03 logits) 0.002
# and 0.003 off after 513 points: 0.006% and 0.011% of their absolute sums (about 30).
CANCELLING = 0.001
# Generous: 256-token explanations take seconds on a busy CI machine.
EXPLAIN_TIMEOUT = 120


def complete(total, difference, magnitude=0.0):
    """Whether an attribution sum equals the output difference within COMPLETENESS of it, or
    within CANCELLING of the attributions' absolute sum `magnitude` (when given)."""
    return abs(total - difference) <= max(COMPLETENESS * abs(difference), SMALL_DIFFERENCE,
                                          CANCELLING * magnitude)


def post(server, endpoint, model, body, content_type, timeout=EXPLAIN_TIMEOUT):
    """A body to /<endpoint>/<model> ("explanations" or "predictions") → the response."""
    return requests.post(f"{server.inference_url}/{endpoint}/{model}", data=body,
                         headers={"Content-Type": content_type, **bearer(server.inference_key())},
                         timeout=timeout)
