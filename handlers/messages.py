"""What a request and an answer are, and the JSON checks every family's decode uses.

A refusal is an InvalidInput: the pipeline turns it into a 400 JSON body that
names the problem and counts it under its reason (handlers.metrics.REASONS).
"""

import functools
import json
from dataclasses import dataclass
from typing import Any, Optional

from handlers.metrics import DEFAULT_REASON

JSON_CONTENT_TYPE = "application/json"


class InvalidInput(Exception):
    """A request the model cannot answer; becomes a 400 JSON error that names the problem.

    `reason` is a key of handlers.metrics.REASONS: the label it is counted under.
    """

    status = 400

    def __init__(self, message: str, reason: str = DEFAULT_REASON):
        super().__init__(message)
        self.message = message
        self.reason = reason

    def to_json(self) -> dict:
        return {"code": self.status, "type": "InvalidInput", "message": self.message}


@dataclass
class Request:
    """One request as the server hands it over: raw bytes, text, or a JSON value the server parsed."""

    body: Any  # bytes, bytearray or str as sent; a JSON value when `parsed`; None when absent
    content_type: Optional[str] = None
    parsed: bool = False  # the server already decoded body as JSON (it may be null, a string, …)
    explain: bool = False  # asks for an explanation of the prediction, not the prediction

    def __post_init__(self):
        # Only a decoded JSON value can be a dict, list, number or boolean.
        if self.body is not None and not isinstance(self.body, (bytes, bytearray, str)):
            self.parsed = True


@dataclass
class Answer:
    """One response: an HTTP status and a JSON-serializable body."""

    status: int
    body: Any

    def to_bytes(self) -> bytes:
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def as_bytes(body) -> bytes:
    """Request body (bytes, bytearray, str) → bytes; raises InvalidInput when empty or absent."""
    if body is None:
        raise InvalidInput("empty request body", reason="empty_body")
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not isinstance(body, (bytes, bytearray)):
        raise InvalidInput(f"unexpected request body of type {type(body).__name__}",
                           reason="wrong_type")
    if len(body) == 0:
        raise InvalidInput("empty request body", reason="empty_body")
    return bytes(body)


def media_type(request: Request) -> str:
    """Request → its content type without parameters, lower case ("" when none was sent)."""
    return _media_type(request.content_type or "")


@functools.lru_cache(maxsize=256)  # clients send a few content types, again and again
def _media_type(content_type: str) -> str:
    return content_type.split(";")[0].strip().lower()


def is_json(request: Request) -> bool:
    """Whether the request carries JSON: parsed by the server, a JSON content type, or a body
    starting like a JSON object or array."""
    if request.parsed or media_type(request).endswith("json"):
        return True
    raw = request.body.encode("utf-8") if isinstance(request.body, str) else (request.body or b"")
    return isinstance(raw, (bytes, bytearray)) and bytes(raw).lstrip()[:1] in (b"{", b"[")


JSON_DECODER = json.JSONDecoder()  # json.loads' own settings
JSON_WHITE_SPACE = " \t\n\r"  # what JSON allows around a value


def parsed_json(text: str):
    """JSON text → its value, as json.loads gives it; whatever json.loads refuses is handed to it,
    so it raises exactly its error. Quicker than json.loads, which finds the white space around
    the value with two regular expressions."""
    start = len(text) - len(text.lstrip(JSON_WHITE_SPACE))
    try:
        value, end = JSON_DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return json.loads(text)
    if text[end:].strip(JSON_WHITE_SPACE):  # more after the value
        return json.loads(text)
    return value


def json_value(request: Request):
    """Request → its decoded JSON value; raises InvalidInput naming the parse error."""
    if request.parsed:
        return request.body
    raw = as_bytes(request.body)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"JSON body is not valid UTF-8: {error}", reason="malformed_json") from None
    try:
        return parsed_json(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"malformed JSON: {error}", reason="malformed_json") from None
    except RecursionError:
        raise InvalidInput("malformed JSON: nested too deeply", reason="malformed_json") from None
    except ValueError as error:  # integers longer than sys.get_int_max_str_digits()
        raise InvalidInput(f"malformed JSON: {str(error).split(';')[0]}",
                           reason="malformed_json") from None


def json_type(value) -> str:
    """A decoded JSON value → its JSON type in words ("a string", "null", …), for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {type(None): "null", str: "a string", list: "an array", dict: "an object"}.get(
        type(value), type(value).__name__)


def field_names(names, most=5, longest=40) -> str:
    """Field names a client sent → a short list for an error message, however many or long they are."""
    names = [str(name) for name in names]
    shown = [name if len(name) <= longest else name[:longest] + "…" for name in names[:most]]
    return ", ".join(shown) + (f" and {len(names) - most:,} more" if len(names) > most else "")


def json_object(value, fields, required=(), what="JSON body", example=""):
    """Decoded JSON → the same object; raises InvalidInput naming a wrong type, missing or unknown fields.

    `fields` lists every accepted field, `required` those that must be there;
    `what` names the object in messages ("JSON body", "record 3").
    """
    if not isinstance(value, dict):
        like = f" like {example}" if example else ""
        raise InvalidInput(f"{what} must be an object{like}, not {json_type(value)}",
                           reason="wrong_type")
    missing = [name for name in required if name not in value]
    unknown = sorted(name for name in value if name not in fields)
    problems = []
    if missing:
        problems.append(f"is missing field(s): {field_names(missing)}")
    if unknown:
        problems.append(f"has unknown field(s): {field_names(unknown)}")
    if problems:
        raise InvalidInput(f"{what} {' and '.join(problems)} (fields: {', '.join(fields)})",
                           reason="missing_field" if missing else "unknown_field")
    return value
