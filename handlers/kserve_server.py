"""Every model family on kserve's model server, without TorchServe: the only kserve-aware code.

    .venv-kserve/bin/python -m handlers.kserve_server --model-dir checkpoints --http-port 8090

Loads <model-dir>/<model>/model.pt for each model folder and serves it as a
kserve.Model of that name: v1 POST /v1/models/<model>:predict (and :explain),
v2 POST /v2/models/<model>/infer, readiness at GET /v2/health/ready and
/v2/models/<model>/ready. Every answer comes from the family's
ModelHandler.handle, as under TorchServe, so both servers give one request the
same JSON. It has no authentication: it listens on 127.0.0.1 unless told
otherwise, and belongs behind the cluster's ingress and its auth.
"""

import argparse
import logging
from pathlib import Path

import kserve
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from kserve.errors import InferenceError
from kserve.errors import InvalidInput as KServeInvalidInput
from kserve.model_server import app
from kserve.protocol.infer_type import InferRequest

from handlers import handler_class
from handlers.hardware import pick_device
from handlers.messages import JSON_CONTENT_TYPE, Answer, Request
from handlers.protocols import message_of
from handlers.warm_up import warm_up
from models.checkpoint import load_checkpoint

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090  # TorchServe's make serve holds 8080-8082


class FamilyModel(kserve.Model):
    """One checkpoint's ModelHandler behind kserve's v1 and v2 endpoints."""

    def __init__(self, name: str, checkpoint_path):
        # Response headers let an answer say it is JSON when it is returned as bytes.
        super().__init__(name, return_response_headers=True)
        self.checkpoint_path = Path(checkpoint_path)
        self.handler = None

    def load(self) -> bool:
        """Checkpoint (weights_only) → the family's ModelHandler, on a GPU when there is one."""
        checkpoint = load_checkpoint(self.checkpoint_path)
        self.handler = handler_class(checkpoint["family"])(checkpoint, pick_device(0))
        log.info("loaded %s version %s from %s", checkpoint["family"], checkpoint["version"],
                 self.checkpoint_path)
        warm_up(self.handler, log)
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None, response_headers=None) -> bytes:
        """kserve's decoded body → the handler's answer as JSON bytes, exactly what TorchServe
        sends; a 400 is raised as kserve's InvalidInput, which kserve answers {"error": ...}."""
        answer = self.handler.handle([request_from(payload, headers or {})])[0]
        if response_headers is not None:
            # Capitalized on purpose: kserve drops a lower-case "content-type" from v2 answers,
            # which would leave the bytes untyped (a test checks both endpoints).
            response_headers["Content-Type"] = JSON_CONTENT_TYPE
        return reply(answer).to_bytes()

    def explain(self, payload, headers=None) -> dict:
        """kserve's decoded body on :explain → the handler's explanation (a plain or v1 body)."""
        request = request_from(payload, headers or {})
        request.explain = True
        return reply(self.handler.handle([request])[0]).body


def request_from(payload, headers: dict) -> Request:
    """What kserve hands a model (JSON it decoded, raw bytes of another content type, or a v2
    InferRequest) → the Request TorchServe's adapter would build from the same HTTP body."""
    if isinstance(payload, InferRequest):
        return Request(v2_body(payload), JSON_CONTENT_TYPE, parsed=True)
    if isinstance(payload, (bytes, bytearray)):
        return Request(payload, headers.get("content-type"))
    return Request(payload, JSON_CONTENT_TYPE, parsed=True)


def v2_body(request: InferRequest) -> dict:
    """kserve's InferRequest, parsed from v2 JSON → that JSON again, for handlers.protocols."""
    body = {"inputs": [{"name": tensor.name, "shape": list(tensor.shape),
                        "datatype": tensor.datatype,
                        # None for binary tensor data, which protocols refuses by name.
                        "data": tensor.data} for tensor in request.inputs]}
    if request.id is not None:
        body["id"] = request.id
    if request.request_outputs:
        body["outputs"] = [{"name": output.name} for output in request.request_outputs]
    return body


def reply(answer: Answer) -> Answer:
    """The handler's Answer → itself when 200; raises kserve's error for its status otherwise."""
    if answer.status == 200:
        return answer
    if answer.status == 400:
        raise KServeInvalidInput(message_of(answer))
    raise InferenceError(message_of(answer))


async def schema_error(_, error: RequestValidationError) -> JSONResponse:
    """FastAPI's 422 for a v2 body that does not fit kserve's schema → KServe's 400 {"error"},
    the answer every other bad input gets."""
    # FastAPI tries the body as an InferenceRequest, then as bytes; the first says what is wrong.
    problems = [f'{".".join(str(part) for part in problem["loc"][2:])}: {problem["msg"]}'
                for problem in error.errors()
                if tuple(problem["loc"][:2]) == ("body", "InferenceRequest")]
    problems = problems or [str(problem["msg"]) for problem in error.errors()]
    return JSONResponse(status_code=400, content={
        "error": "the body is no v2 inference request: " + "; ".join(problems[:5])})


class LoopbackModelServer(kserve.ModelServer):
    """kserve's ModelServer listening on one address; kserve itself always binds 0.0.0.0."""

    def __init__(self, host: str, **settings):
        super().__init__(**settings)
        self.host = host

    def setup_event_loop(self):
        # start() has built the REST server by now; it binds when the loop runs, just after.
        self._rest_server.config.host = self.host
        super().setup_event_loop()


def load_models(model_dir, names=None) -> list:
    """Folder of <model>/model.pt (and the names to serve, default all) → loaded FamilyModels."""
    folder = Path(model_dir)
    names = names or sorted(path.parent.name for path in folder.glob("*/model.pt"))
    if not names:
        raise SystemExit(f"no <model>/model.pt under {folder}: train first (make checkpoints)")
    models = []
    for name in names:
        model = FamilyModel(name, folder / name / "model.pt")
        model.load()
        models.append(model)
    return models


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model-dir", default="checkpoints",
                        help="folder of <model>/model.pt checkpoints (default: %(default)s)")
    parser.add_argument("--models", nargs="*", default=None,
                        help="model folders to serve (default: every one with a model.pt)")
    parser.add_argument("--http-port", type=int, default=DEFAULT_PORT,
                        help="HTTP port (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; there is no auth, so widen it only behind "
                             "an ingress that authenticates (default: %(default)s)")
    args, _ = parser.parse_known_args(argv)  # kserve reads its own flags from the same argv
    models = load_models(args.model_dir, args.models)
    app.add_exception_handler(RequestValidationError, schema_error)
    # One process, REST only: kserve's gRPC server would listen on every address.
    LoopbackModelServer(args.host, http_port=args.http_port, enable_grpc=False,
                        workers=1).start(models)


if __name__ == "__main__":
    main()
