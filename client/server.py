"""One TorchServe as the client sees it: its addresses, its keys, and HTTP calls that end in a clear one-line error."""

import json
import os
from pathlib import Path

import requests

from harness.torchserve import HTTP_TIMEOUT, KeyFile, ServerError, TorchServe, bearer

ADDRESSES = ("inference_address", "management_address", "metrics_address")
# Which key each API wants; TorchServe checks none on the metrics API.
KEY_FOR = {"inference": "inference", "management": "management", "metrics": None}

# Exit statuses, so a script can tell "the server said no" from "no server" from "wrong key".
ANSWERED_ERROR = 1
USAGE = 2  # argparse's own status for bad arguments, reused for local problems
NO_ANSWER = 3
KEY_REFUSED = 4

MODEL_API_OFF = ("the server's model API is off (enable_model_api=false), so it cannot register, "
                 "unregister or switch versions; switch it on for this server with `make stop` then "
                 "`.venv/bin/python -m tools.serve start --model-api`")


def address_overrides(environ) -> dict:
    """Environment → the addresses it overrides: TORCHSERVE_INFERENCE_ADDRESS and the like."""
    return {name: environ[f"TORCHSERVE_{name.upper()}"] for name in ADDRESSES
            if environ.get(f"TORCHSERVE_{name.upper()}")}


class Server:
    """The server a config.properties describes, with the key file TorchServe wrote beside it."""

    def __init__(self, config, key_file=None, timeout=HTTP_TIMEOUT, environ=os.environ):
        config = Path(config)
        try:
            torchserve = TorchServe(config.parent, config)
        except OSError as error:
            raise ServerError(f"cannot read the config {config}: {error.strerror}; point --config "
                              f"(or TORCHSERVE_CONFIG) at the server's config.properties",
                              exit_status=USAGE) from None
        if key_file:
            torchserve.keys = KeyFile(key_file)
        addresses = {"inference_address": torchserve.inference_url,
                     "management_address": torchserve.management_url,
                     "metrics_address": torchserve.metrics_url, **address_overrides(environ)}
        self.urls = {name.split("_")[0]: url.rstrip("/") for name, url in addresses.items()}
        # TorchServe started by `make serve` runs in the config's folder: its key
        # file and its relative model store are found there.
        self.model_store = torchserve.model_store
        self.keys = torchserve.keys
        self.token_authorization = torchserve.token_authorization
        self.timeout = timeout

    def key(self, kind, url) -> str:
        """"inference" or "management", and the address it is for → the current key, renewed first
        when it has expired."""
        try:
            return self.keys.current(kind, self.urls["management"])
        except ServerError as error:  # no key file, or the token API refused to renew
            # `make stop` deletes the key file: a server that is down is the news then.
            self.reachable(url)
            raise ServerError(f"{error}; point --key-file (or TORCHSERVE_KEY_FILE) at the "
                              "key_file.json in the folder TorchServe was started from", exit_status=KEY_REFUSED) from None
        except (KeyError, TypeError, ValueError) as error:
            raise ServerError(f"{self.keys.path} is not a TorchServe key file ({error!r})",
                              exit_status=KEY_REFUSED) from None
        except requests.RequestException as error:  # renewing: the token API did not answer
            raise no_answer(self.urls["management"], error, self.timeout) from None

    def reachable(self, url):
        """Raise ServerError when nothing answers HTTP at `url`."""
        try:
            requests.head(url, timeout=self.timeout)
        except requests.RequestException as error:
            raise no_answer(url, error, self.timeout) from None

    def call(self, api, method, path, timeout=None, **options) -> requests.Response:
        """API ("inference", "management", "metrics"), method, path → its 2xx response, else ServerError."""
        timeout = timeout or self.timeout
        headers = dict(options.pop("headers", {}))
        if KEY_FOR[api] and self.token_authorization:
            headers.update(bearer(self.key(KEY_FOR[api], self.urls[api])))
        url = f"{self.urls[api]}{path}"
        try:
            response = requests.request(method, url, headers=headers, timeout=timeout, **options)
        except requests.RequestException as error:
            raise no_answer(self.urls[api], error, timeout) from None
        if response.status_code < 300:
            return response
        raise refusal(response, api, self.keys.path)


def no_answer(base_url, error, timeout) -> ServerError:
    """A failed connection or a timeout → the one-line reason and what to do."""
    if isinstance(error, requests.Timeout):
        return ServerError(f"{base_url} gave no answer within {timeout:g} s (--timeout): the "
                           "server is busy or stuck; its logs are in logs/ beside its config", exit_status=NO_ANSWER)
    reason = "connection refused" if "refused" in str(error).lower() else type(error).__name__
    return ServerError(f"no server at {base_url} ({reason}): is TorchServe running? Start it with "
                       "`make serve`, or point --config at the config.properties it runs with", exit_status=NO_ANSWER)


def error_body(response) -> tuple:
    """An error response → (type, message) from TorchServe's {"code", "type", "message"} JSON, or its text."""
    try:
        body = response.json()
        if isinstance(body, dict) and "message" in body:
            return str(body.get("type") or response.reason), " ".join(str(body["message"]).split())
    except ValueError:
        pass
    text = " ".join(response.text.split())[:300]
    return response.reason, text or "(empty body)"


def refusal(response, api, key_path) -> ServerError:
    """A non-2xx response → ServerError saying what the server said, with a hint where we know one."""
    kind, message = error_body(response)
    status = response.status_code
    # TorchServe answers a wrong or expired key with 400 InvalidKeyException; a
    # proxy in front might say 401 or 403 instead.
    if kind == "InvalidKeyException" or status == 401 or (status == 403 and kind == "Forbidden"):
        return ServerError(f"TorchServe refused the {KEY_FOR[api]} key from {key_path} ({status} "
                           f"{kind}): the key file is stale or belongs to another server; use the "
                           "key_file.json in the folder TorchServe was started from (--key-file), "
                           "or restart it (`make stop`, `make serve`) to write a fresh one", exit_status=KEY_REFUSED)
    if api == "management" and status == 405:
        return ServerError(f"{MODEL_API_OFF} ({status} {kind})")
    if status == 413:
        message = "the body is larger than the server's max_request_size (10 MiB by default)"
    return ServerError(f"{status} {kind}: {message}")


def pretty(body: bytes) -> str:
    """An answer body → indented JSON when it is JSON, else its text."""
    try:
        return json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except ValueError:
        return body.decode("utf-8", errors="replace")
