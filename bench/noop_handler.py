"""A TorchServe handler that answers every request with the same constant: the server's own ceiling.

Served with the same config, batch settings and request bodies as a real
model, it measures what the HTTP frontend and the frontend-to-worker protocol
cost when the model costs nothing.
"""

ANSWER = b'{"ok":true}'


def handle(data, context):
    """A TorchServe batch (None while the worker loads) → the constant answer for each request."""
    if data is None:
        return None
    for index in range(len(data)):
        context.set_response_content_type(index, "application/json")
    return [ANSWER] * len(data)
