"""What the management gateway lets through: one raw HTTP request → the canonical request TorchServe gets, or a refusal.

The gateway never forwards what it was sent. It reads the request the way
TorchServe 0.12's frontend (Netty 4.1.53) would: the path percent-decoded
(`+` kept), then split on `/` with trailing empty segments dropped, as Java's
String.split does; the query split on `&` and `;`, names and values
percent-decoded with `+` as a space; a registration read from a JSON body
when the Content-Type is application/json, from the query otherwise. It then
matches that reading against the few management calls this project
documents, checks every parameter, and builds a new request from the checked
values alone: a plain path, a plain query, the Authorization header and no
body. TorchServe acts on that request, so what it acts on is what was
checked. Anything the two readings could disagree on (a `;` or `#`, repeated
or empty parameters, parameters in both the query and a body, dot segments,
inner empty segments, a body the call does not take) is refused.
"""

import json
import re
import urllib.parse
from dataclasses import dataclass

# Model names and versions as TorchServe derives them from archives, plus "all".
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
ARCHIVE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.mar")
MAX_BODY_BYTES = 64 * 1024  # a registration's JSON is a few hundred bytes
# A request target is visible ASCII; TorchServe's own error for bad escapes is a 403.
TARGET = re.compile(r"/[\x21-\x7e]*")
# Header values are visible ASCII with single spaces or tabs: no folded lines, no CR/LF.
HEADER_VALUE = re.compile(r"[\x21-\x7e]+(?:[ \t][\x21-\x7e]+)*")
# TorchServe reads a JSON body when the type is application/json; it decodes it as UTF-8.
JSON_TYPE = re.compile(r"application/json(?:\s*;\s*charset=\"?utf-8\"?)?", re.IGNORECASE)


@dataclass(frozen=True)
class Refusal(Exception):
    """Why a request does not reach TorchServe: HTTP status, error type, message."""

    status: int
    kind: str
    message: str


@dataclass(frozen=True)
class Upstream:
    """The request TorchServe gets: method, canonical target, headers."""

    method: str
    target: str
    headers: tuple


def bad(message, status=400, kind="BadRequest"):
    return Refusal(status, kind, message)


def integer(value):
    """A parameter's text or JSON value → the whole number it names (0 to 999999999), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**9 else None
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value):
        return int(value)
    return None


def boolean(value):
    """"true"/"false" (any case, as Java's parseBoolean reads them) or a JSON bool → "true"/"false", else None."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower()
    return None


def checker(kind):
    """A parameter kind → function(value, model_store) → canonical text, or None when invalid."""
    return {
        "int": lambda value, store: None if integer(value) is None else str(integer(value)),
        "bool": lambda value, store: boolean(value),
        "name": lambda value, store: value if isinstance(value, str) and NAME.fullmatch(value) else None,
        "archive": lambda value, store: value if isinstance(value, str) and ARCHIVE_NAME.fullmatch(value)
        and ".." not in value and (store / value).is_file() else None,
        "key_type": lambda value, store: value if value in ("inference", "management") else None,
    }[kind]


# What a registration may set; `handler`, `runtime` and `s3_sse_kms` are left
# out: the first two would run other code than the archive's.
REGISTRATION = {"url": "archive", "model_name": "name", "initial_workers": "int",
                "synchronous": "bool", "batch_size": "int", "max_batch_delay": "int",
                "response_timeout": "int", "startup_timeout": "int"}
SCALING = {"min_worker": "int", "max_worker": "int", "synchronous": "bool"}
LISTING = {"limit": "int", "next_page_token": "int"}

# (method, path pattern) → (call, its parameters, required ones). In a pattern,
# NAME stands for a model name or version; every other segment is literal.
ROUTES = [
    ("GET", ("models",), "list", LISTING, ()),
    ("POST", ("models",), "register", REGISTRATION, ("url",)),
    ("GET", ("models", NAME), "describe", {}, ()),
    ("GET", ("models", NAME, NAME), "describe", {}, ()),
    ("PUT", ("models", NAME), "scale", SCALING, ()),
    ("PUT", ("models", NAME, NAME), "scale", SCALING, ()),
    ("PUT", ("models", NAME, NAME, "set-default"), "set-default", {}, ()),
    ("DELETE", ("models", NAME), "unregister", {}, ()),
    ("DELETE", ("models", NAME, NAME), "unregister", {}, ()),
    ("GET", ("token",), "token", {"type": "key_type"}, ("type",)),
]
DOCUMENTED = ("GET /models, POST /models?url=ARCHIVE.mar, GET|PUT|DELETE /models/MODEL[/VERSION], "
              "PUT /models/MODEL/VERSION/set-default, GET /token?type=inference|management")


def percent_decode(text, plus_is_space):
    """Percent-encoded text → its UTF-8 text, as Netty decodes it; refuses broken escapes and bytes."""
    if plus_is_space:
        text = text.replace("+", " ")
    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise bad(f"broken percent-escape in {text[:200]!r}")
    try:
        return urllib.parse.unquote(text, errors="strict")
    except UnicodeDecodeError:
        raise bad(f"percent-escapes that are not UTF-8 in {text[:200]!r}") from None


def path_segments(raw_path):
    """A raw path → its segments as TorchServe splits them ("/models/a/" → ["models", "a"])."""
    segments = percent_decode(raw_path, plus_is_space=False).split("/")
    while segments and segments[-1] == "":  # Java's split drops trailing empty strings
        segments.pop()
    if segments[:1] != [""]:
        raise bad("the path must start with /")
    segments = segments[1:]
    if "" in segments:
        raise bad(f"repeated slashes in the path {raw_path[:200]!r}")
    if {".", ".."} & set(segments):
        raise bad(f"dot segments in the path {raw_path[:200]!r}")
    return segments


def query_parameters(raw_query):
    """A raw query → {name: value}; refuses what Netty and other parsers could read differently."""
    if not raw_query:
        return {}
    if ";" in raw_query or "#" in raw_query:
        raise bad("';' and '#' are not allowed in the query: TorchServe splits parameters on ';'")
    parameters = {}
    for piece in raw_query.split("&"):
        name, equals, value = piece.partition("=")
        if not name or not equals:
            raise bad(f"query parameters must be name=value, got {piece[:200]!r}")
        name = percent_decode(name, plus_is_space=True)
        if name in parameters:
            raise bad(f"parameter {name[:100]!r} given more than once")
        parameters[name] = percent_decode(value, plus_is_space=True)
    return parameters


def refuse_duplicates(pairs):
    """JSON object pairs → dict; refuses a key given twice."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise bad(f"{key!r} given more than once in the JSON body")
        seen[key] = value
    return seen


def refuse_constant(name):
    raise bad(f"{name} is not JSON")


def json_parameters(body):
    """A registration's JSON body → {name: value}; strict JSON, one object, no repeated keys."""
    try:
        parsed = json.loads(body.decode("utf-8"), object_pairs_hook=refuse_duplicates,
                            parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError) as error:
        raise bad(f"the body is not strict UTF-8 JSON: {str(error)[:200]}") from None
    if not isinstance(parsed, dict):
        raise bad("the JSON body must be an object of registration parameters")
    return parsed


def header_values(headers, name):
    """(name, value) pairs → every value of `name`, case-insensitive."""
    return [value for key, value in headers if key.lower() == name]


def single_header(headers, name):
    """The value of a header that may appear at most once, or None."""
    values = header_values(headers, name)
    if len(values) > 1:
        raise bad(f"the {name} header is given {len(values)} times")
    if values and not HEADER_VALUE.fullmatch(values[0]):
        raise bad(f"the {name} header holds characters that are not allowed")
    return values[0] if values else None


def match_route(method, segments):
    """Method and segments → (call, allowed parameters, required ones), or a JSON 403/404."""
    methods_here = set()
    for route_method, pattern, call, allowed, required in ROUTES:
        if len(pattern) == len(segments) and all(
                part.fullmatch(segment) if isinstance(part, re.Pattern) else part == segment
                for part, segment in zip(pattern, segments)):
            if route_method == method:
                return call, allowed, required
            methods_here.add(route_method)
    if methods_here:
        raise Refusal(405, "MethodNotAllowed", f"{method[:20]} is not allowed here; "
                      f"allowed: {', '.join(sorted(methods_here))}")
    raise Refusal(404, "NotFound", f"no such management call; the gateway serves {DOCUMENTED}")


def checked(call, parameters, allowed, required, model_store):
    """Parameters → [(name, canonical value)] in a fixed order; refuses unknown, missing or bad ones."""
    unknown = sorted(set(parameters) - set(allowed))
    if unknown:
        kind = "RegistrationRefused" if call == "register" else "BadRequest"
        raise Refusal(403 if call == "register" else 400, kind,
                      f"parameter(s) not allowed for {call}: {', '.join(unknown)[:200]}; "
                      f"allowed: {', '.join(sorted(allowed)) or 'none'}")
    missing = [name for name in required if name not in parameters]
    if call == "register" and missing:
        raise Refusal(403, "RegistrationRefused", "registration needs a url: the file name of "
                      "an archive in the model store, such as <model>.mar")
    if missing:
        raise bad(f"{call} needs {', '.join(missing)}")
    canonical = []
    for name in allowed:
        if name not in parameters:
            continue
        value = checker(allowed[name])(parameters[name], model_store)
        if value is None and name == "url":
            raise Refusal(403, "RegistrationRefused",
                          "url must be the file name of an archive in the model store, such as "
                          f"<model>.mar; got {str(parameters[name])[:200]!r}")
        if value is None:
            raise bad(f"{name} must be {describe_kind(allowed[name])}; "
                      f"got {str(parameters[name])[:100]!r}")
        canonical.append((name, value))
    return canonical


def describe_kind(kind):
    return {"int": "a whole number from 0 to 999999999", "bool": "true or false",
            "name": "a model name (letters, digits, '_', '-', '.')",
            "key_type": "inference or management"}[kind]


def decide(method, target, headers, body, model_store) -> Upstream:
    """Method, raw request target, header pairs, body bytes, model store → the canonical Upstream request.

    Raises Refusal for anything else.
    """
    if not TARGET.fullmatch(target):
        raise bad("the request target must be a path starting with / in visible ASCII")
    raw_path, _, raw_query = target.partition("?")
    segments = path_segments(raw_path)
    call, allowed, required = match_route(method, segments)

    content_type = single_header(headers, "content-type")
    authorization = single_header(headers, "authorization")
    from_query = query_parameters(raw_query)
    if body and call != "register":
        raise bad(f"{call} takes no body")
    mime = (content_type or "").split(";")[0].strip().lower()
    if call == "register" and (body or mime == "application/json"):
        if not (content_type and JSON_TYPE.fullmatch(content_type)):
            raise Refusal(415, "UnsupportedMediaType", "a registration with a body must send "
                          "Content-Type: application/json (UTF-8); "
                          f"got {str(content_type)[:100]!r}")
        if raw_query:
            raise bad("registration parameters given in both the query and the JSON body")
        parameters = json_parameters(body)
    else:
        parameters = from_query

    canonical = checked(call, parameters, allowed, required, model_store)
    path = "/" + "/".join(urllib.parse.quote(segment, safe="") for segment in segments)
    query = urllib.parse.urlencode(canonical, quote_via=urllib.parse.quote)
    upstream_target = path + ("?" + query if query else "")
    forwarded = (("Authorization", authorization),) if authorization is not None else ()
    # TorchServe serves its token API for any request whose text contains "/token".
    if call != "token" and any("/token" in text
                               for text in (upstream_target, *(v for _, v in forwarded))):
        raise bad("'/token' may appear only in GET /token?type=...: TorchServe would treat this "
                  "call as a key renewal")
    return Upstream(method, upstream_target, forwarded)
