"""TorchServe entry point for every model family: the only code that knows TorchServe's shapes.

archive.sh passes this file as --handler; the checkpoint inside the .mar
says which family's handler to build.
"""

import importlib
import logging
import os
from http import HTTPStatus

import torch

from handlers import handler_class
from handlers.formats import PACKAGE_FILE, format_in
from handlers.hardware import pick_device, worker_threads
from handlers.messages import JSON_CONTENT_TYPE, InvalidInput, Request, field_names
from handlers.torchserve_metrics import metrics_recorder
from handlers.warm_up import warm_up
from models.checkpoint import load_checkpoint

log = logging.getLogger(__name__)


# Written by archive.sh --handler-classes: the shipped package whose handler_class(family) the
# worker builds its handler from, in place of handlers.handler_class.
HANDLER_CLASSES_FILE = "handler_classes"


def handler_class_in(model_dir):
    """Model dir of an unpacked .mar → the function from family name to handler class:
    handlers.handler_class, or that of the package named in HANDLER_CLASSES_FILE."""
    path = os.path.join(model_dir, HANDLER_CLASSES_FILE)
    if not os.path.isfile(path):
        return handler_class
    with open(path) as named:
        return importlib.import_module(named.read().strip()).handler_class


# Bodies TorchServe's frontend decodes as forms: only their fields reach the worker.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def request_from_row(row, context, index) -> Request:
    """One TorchServe request row → Request: the raw body, or the one form field when sent as a
    form; raises InvalidInput when a form holds no field, or several without one named data."""
    if not isinstance(row, dict):
        return Request(body=row)
    names = [name for name in ("data", "body") if name in row]
    if not names and len(row) > 1:
        # Taking one of several fields would answer for a guess.
        raise InvalidInput(f"the form has {len(row)} fields ({field_names(sorted(row))}); "
                           "send one, or name the one to read data", reason="unknown_field")
    # Multipart uploads arrive as named fields; accept a single one of any name,
    # whatever TorchServe made of it (bytes, text, or parsed JSON).
    names = names or list(row)
    if not names:
        if request_media_type(context, index) in FORM_TYPES:
            raise InvalidInput("the body was sent as a form and holds no field; send it with "
                               "its own Content-Type (image/png, text/plain, application/json)",
                               reason="empty_body")
        return Request(body=None)
    body = row[names[0]]
    content_type = parameter_content_type(context, index, names[0])
    # /explanations/<model> reaches the same handler, marked by this header.
    explain = request_header(context, index, "explain") == "True"
    # TorchServe's worker parses exactly this content type into any JSON value
    # (null and strings included), and hands over raw bytes when it did not parse.
    parsed = content_type == JSON_CONTENT_TYPE and not isinstance(body, (bytes, bytearray))
    return Request(body, content_type, parsed, explain)


def request_header(context, index, name):
    """One request header TorchServe recorded (a string), or None."""
    try:
        value = context.get_request_header(index, name)
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def parameter_content_type(context, index, name):
    """The content type TorchServe recorded for one request field, or None."""
    try:
        header = context.get_request_header(index, name)
    except (AttributeError, IndexError, KeyError, TypeError):
        return None
    return header.get("content-type") if isinstance(header, dict) else None


def request_media_type(context, index) -> str:
    """The whole HTTP request's Content-Type without parameters, lower case ("" when none)."""
    try:
        headers = context.request_processor[index].get_request_properties() or {}
    except (AttributeError, IndexError, KeyError, TypeError):
        return ""
    # Request headers, named as the client sent them, sit beside the fields' {"content-type"} dicts.
    value = next((value for name, value in headers.items()
                  if str(name).lower() == "content-type" and isinstance(value, str)), "")
    return value.split(";")[0].strip().lower()


def set_interop_threads(count):
    """Size torch's inter-op pool once per process (it runs independent ops side by side, which
    these small models never have); later calls are refused by torch and ignored here."""
    try:
        torch.set_num_interop_threads(count)
    except RuntimeError:  # already set, or inter-op work already started
        pass


class TorchServeHandler:
    """Adapts TorchServe's initialize/handle protocol to a family's ModelHandler."""

    def __init__(self):
        self.handler = None
        self.initialized = False

    def initialize(self, context):
        """Load the checkpoint shipped in the .mar onto the assigned device, with bounded threads."""
        properties = context.system_properties
        settings = context.model_yaml_config or {}
        torch.set_num_threads(worker_threads(settings))
        set_interop_threads(1)

        model_dir = properties["model_dir"]
        path = os.path.join(model_dir, context.manifest["model"]["serializedFile"])
        checkpoint = load_checkpoint(path)
        device = pick_device(properties.get("gpu_id"))
        model_format = format_in(model_dir, settings)
        self.handler = handler_class_in(model_dir)(checkpoint["family"])(
            checkpoint, device, model_format, os.path.join(model_dir, PACKAGE_FILE))
        log.info("loaded %s version %s on %s as %s with %d torch threads, handler %s",
                 checkpoint["family"], checkpoint["version"], device, model_format,
                 torch.get_num_threads(), type(self.handler).__qualname__)
        warm_up(self.handler, log)
        self.initialized = True

    def handle(self, data, context):
        """TorchServe batch → one JSON body per request, with per-request status codes."""
        self.handler.metrics = metrics_recorder(context)
        answers, requests = [None] * len(data), {}
        for index, row in enumerate(data):
            try:
                requests[index] = request_from_row(row, context, index)
            except InvalidInput as error:
                answers[index] = self.handler.refuse(error)
        for index, answer in zip(requests, self.handler.handle(list(requests.values()))):
            answers[index] = answer
        for index, answer in enumerate(answers):
            context.set_response_content_type(index, JSON_CONTENT_TYPE)
            if answer.status != 200:
                context.set_response_status(answer.status, HTTPStatus(answer.status).phrase, index)
        return [answer.to_bytes() for answer in answers]
