"""What `predict` sends: a file, stdin or a literal → (body bytes, content type)."""

import json
import sys
from pathlib import Path

CONTENT_TYPES = {
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
    ".bmp": "image/bmp", ".webp": "image/webp",
    ".json": "application/json", ".txt": "text/plain",
}
# First bytes of the image formats the digit reader takes, for bodies with no file name.
MAGIC = {
    b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif",
    b"BM": "image/bmp",
}


class BodyError(ValueError):
    """The argument names a file that cannot be read."""


def sniff(body: bytes) -> str:
    """Bytes with no file name → the content type they read as: an image, JSON, text or octet-stream."""
    for magic, content_type in MAGIC.items():
        if body.startswith(magic):
            return content_type
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "application/json" if looks_like_json(text) else "text/plain"


def looks_like_json(text: str) -> bool:
    """Text → whether it is a JSON object or array (a bare word or number stays text)."""
    if not text.lstrip().startswith(("{", "[")):
        return False
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def looks_like_file_name(argument: str) -> bool:
    """An argument with no spaces ending in an extension we know: meant as a file, not as text."""
    return not any(c.isspace() for c in argument) and Path(argument).suffix.lower() in CONTENT_TYPES


def request_body(argument: str, content_type=None, stdin=None) -> tuple:
    """`-`, a file path, JSON or text (and a content type that overrides the guess) → (bytes, content type)."""
    if argument == "-":
        body = (stdin or sys.stdin.buffer).read()
        return body, content_type or sniff(body)
    path = Path(argument)
    if path.is_file():
        try:
            body = path.read_bytes()
        except OSError as error:
            raise BodyError(f"cannot read {argument}: {error.strerror}") from None
        return body, content_type or CONTENT_TYPES.get(path.suffix.lower()) or sniff(body)
    if content_type:
        return argument.encode(), content_type
    if looks_like_file_name(argument):
        raise BodyError(f"no file {argument}; to send those words as text, add --content-type "
                        "text/plain")
    return argument.encode(), "application/json" if looks_like_json(argument) else "text/plain"
