"""How TorchServe 0.12's frontend reads a management request, ported line by line for the tests.

Netty 4.1.53's QueryStringDecoder (path(), decodeParams, decodeComponent),
Java's String.split("/"), ManagementRequestHandler's routing and
RegisterModelRequest's two readings (query, or a JSON body when the mime type
is application/json). Written apart from tools/management_policy.py, so the
tests check the gateway against TorchServe's reading, not against itself.
"""

import json


class NettyError(ValueError):
    """Netty throws IllegalArgumentException (TorchServe answers 403) for a broken escape."""


def decode_component(s, is_path):
    """Netty's decodeComponent: %XX runs as UTF-8 (bad bytes become U+FFFD), '+' a space off the path."""
    out, i = [], 0
    while i < len(s):
        c = s[i]
        if c != "%":
            out.append(" " if c == "+" and not is_path else c)
            i += 1
            continue
        run = bytearray()
        while i < len(s) and s[i] == "%":
            if i + 3 > len(s):
                raise NettyError("unterminated escape")
            if not all(ch in "0123456789abcdefABCDEF" for ch in s[i + 1:i + 3]):
                raise NettyError("invalid hex byte")
            run.append(int(s[i + 1:i + 3], 16))
            i += 3
        out.append(run.decode("utf-8", errors="replace"))
    return "".join(out)


def path_end(uri):
    for index, c in enumerate(uri):
        if c in "?#":
            return index
    return len(uri)


def path(uri):
    return decode_component(uri[:path_end(uri)], is_path=True)


def parameters(uri):
    """decodeParams with semicolonIsNormalChar false: '&' and ';' separate, '#' ends."""
    s, start = uri, path_end(uri)
    params = {}
    if start >= len(s):
        return params
    if s[start] == "?":
        start += 1
    name_start, value_start, i = start, -1, start

    def add(name_start, value_start, end):
        if name_start >= end:
            return
        if value_start <= name_start:
            value_start = end + 1
        name = decode_component(s[name_start:value_start - 1], False)
        value = decode_component(s[value_start:end], False) if value_start <= end else ""
        params.setdefault(name, []).append(value)

    while i < len(s):
        c = s[i]
        if c == "=":
            if name_start == i:
                name_start = i + 1
            elif value_start < name_start:
                value_start = i + 1
        elif c in "&;":
            add(name_start, value_start, i)
            name_start = i + 1
        elif c == "#":
            break
        i += 1
    add(name_start, value_start, i)
    return params


def java_split(text):
    """Java's String.split("/"): trailing empty strings removed."""
    parts = text.split("/")
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def first(params, key, default=None):
    values = params.get(key)
    return values[0] if values else default


def reading(method, uri, headers=(), body=b""):
    """A request → what TorchServe's management API would do with it: ("register", {fields}),
    ("token", type), (call, segments) for other management calls, or ("none", why)."""
    try:
        segments = java_split(path(uri))
        params = parameters(uri)
    except NettyError as error:
        return "none", str(error)
    if "/token" in f"{uri} {' '.join(v for _, v in headers)}":
        return "token", first(params, "type")
    if len(segments) < 2 or segments[1] != "models" or not 2 <= len(segments) <= 5:
        return "none", "not a management call"
    if len(segments) == 5 and segments[4] != "set-default":
        return "none", "not a management call"
    if len(segments) < 3:
        if method == "GET":
            return "list", segments
        if method != "POST":
            return "none", "method not allowed"
        content_type = next((v for k, v in headers if k.lower() == "content-type"), None)
        if content_type is not None and content_type.split(";")[0].lower() == "application/json":
            try:
                fields = json.loads(body.decode("utf-8", errors="replace"))
            except ValueError:
                return "none", "bad JSON"  # Gson is lenient; the tests send strict JSON or none
            return "register", fields if isinstance(fields, dict) else {}
        return "register", {key: first(params, key) for key in params}
    return {"GET": "describe", "PUT": "scale", "DELETE": "unregister"}.get(method, "none"), segments
