"""A model family behind LitServe with LitServe's own batching, over the project's handler code.

    LIT_SERVER_API_KEY=<key> python -m bench.litserve_peer --model digits_cnn --port 8000

The benchmark's peer: the same checkpoint, decode, preprocess, model and
postprocess as the TorchServe worker, so a difference in the figures is the
serving stack. Batch size, batch delay and torch threads come from the model's
model-config yaml. It takes JSON bodies (LitServe parses the body as JSON);
requests need the header X-API-Key when LIT_SERVER_API_KEY is set.
"""

import argparse
import logging

import litserve
import torch
from fastapi import HTTPException

from bench.compute import build_handler, worker_threads
from handlers.base import rows
from handlers.hardware import to_device
from handlers.messages import InvalidInput, Request
from handlers.warm_up import warm_up
from harness.examples import subject
from harness.settings import model_format, model_settings as settings


class HandlerAPI(litserve.LitAPI):
    """LitServe's four steps, each one a step of the family's ModelHandler."""

    def __init__(self, model, model_format="eager", **batching):
        super().__init__(**batching)
        self.family, self.model_format = model, model_format

    def setup(self, device):
        """Load the checkpoint on the CPU with as many torch threads as a TorchServe worker uses,
        and answer the family's warm-up request, as a TorchServe worker does at start."""
        torch.set_num_threads(worker_threads(self.family))
        self.handler = build_handler(self.family, self.model_format)
        warm_up(self.handler, logging.getLogger(__name__))

    def decode_request(self, request):
        """The JSON body LitServe parsed → (payload, model input); a bad body becomes a 400 naming it."""
        try:
            payload = self.handler.decode(Request(request, "application/json", parsed=True))
            return payload, self.handler.preprocess(payload)
        except InvalidInput as error:
            raise HTTPException(status_code=error.status, detail=error.to_json()) from None

    def batch(self, inputs):
        """[(payload, model input)] → (payloads, one collated model input)."""
        payloads, model_inputs = zip(*inputs)
        return list(payloads), list(model_inputs)

    def predict(self, batch):
        """(payloads, model inputs) → [(payload, its output rows)] from one forward pass."""
        if self.max_batch_size == 1:  # LitServe hands over one decoded request, unbatched
            return self.predict(([batch[0]], [batch[1]]))[0]
        payloads, model_inputs = batch
        with torch.inference_mode():
            outputs = self.handler.inference(
                to_device(self.handler.collate(model_inputs), self.handler.device)).cpu()
        return list(zip(payloads, torch.split(outputs, [rows(x) for x in model_inputs])))

    def unbatch(self, output):
        return output

    def encode_response(self, output):
        """(payload, output rows) → the answer dict, exactly as the TorchServe worker sends it."""
        payload, rows_out = output
        return self.handler.postprocess(payload, rows_out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=subject("benchmark"),
                        help=f"model family (default {subject('benchmark')})")
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--workers", type=int, default=1, help="inference processes (default 1)")
    parser.add_argument("--format", default=None,
                        help="eager, compile, aoti or int8 (default: as archive.sh would choose)")
    parser.add_argument("--batching", choices=("on", "off"), default="on",
                        help="on: batchSize and maxBatchDelay from model-config (default); off: 1")
    args = parser.parse_args()
    values = settings(args.model)
    batching = ({"max_batch_size": int(values.get("batchSize", 1)),
                 "batch_timeout": float(values.get("maxBatchDelay", 0)) / 1000}
                if args.batching == "on" else {"max_batch_size": 1})
    api = HandlerAPI(args.model, model_format(args.model, args.format), **batching)
    server = litserve.LitServer(api, accelerator="cpu",
                                workers_per_device=args.workers, timeout=30)
    server.run(host="127.0.0.1", port=args.port, num_api_servers=1, log_level="warning",
               generate_client_file=False)


if __name__ == "__main__":
    main()
