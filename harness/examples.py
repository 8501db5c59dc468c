"""Example requests and the answers they must get: each family's own, found by its name.

A family's module families/<family>.py says what only it knows;
the expected answer of every call comes from the same checkpoint run through
the same handler class in this process, so a served answer that differs in
any way is caught. What a family's module may hold:

- bodies(checkpoint, size) → (good, bad): lists of (body, content type) (required);
- TOLERANCE: how far a served number may be from the in-process one (default 0);
- GPU_TOLERANCE, or gpu_difference(expected, got) → "" or what differs: against the CPU;
- certain(call) → whether a good call's answer is exact enough to check (default: all are);
- split_inputs(handler), agreement(expected, got), identical(expected, got): formats compared;
- BATCH_SETTINGS: the (batchSize, maxBatchDelay, format) that tools.compare_batching compares;
- KEPT_FORMATS: the formats that serve it faster than eager and within its agreement rule;
  REFUSED_FORMATS: {format: what the refusal says} for those it cannot be served in;
- SUBJECT_OF: the checks and benchmarks that are about this family ("benchmark", "crash", …),
  and the cross-family tests that need one model and take this one ("archive", …);
- small_checkpoint() → (save_checkpoint's family arguments for a small untrained model, a batch
  of its inputs): what the checkpoint tests save and rebuild;
- refusal_reasons() → [(bad Request, the reason its refusal is counted under)];
  metered_requests() → [(body, content type, rows, reason or None)]: the metrics tests' requests;
- BAD_INPUT_FIELD: the field the bad-input tests write odd values into; BAD_INPUT_ANSWERS:
  {case every family gets: (status, message)} where the family answers its own way;
  bad_inputs() → {case only it gets: (body, content type, status, message)};
  good_requests() → eight different good requests, to mix with bad ones in full batches;
- evaluation_splits() → the family's Splits, whose test split a brought model is scored on, and
  LABELS, what its models answer (tools.bring_model; a tabular family's splits name its classes);
- slowest_body(), json_body(sample): the overload check's request, the benchmark's JSON body;
- plain_examples() → two plain JSON bodies; v1_instances(first, second) (default: as they are),
  v2_inputs(first, second) and v2_outputs(first answer, second answer): the same two examples
  in KServe's v1 and v2 protocols; V2_WRONG_SHAPE: a shape its first v2 input refuses.

The family's sample request is its handler's `sample` attribute (handlers/<family>.py).
A family made by tools.new_family names an EXAMPLES object (families/tables.py, …) that holds
these for its kind, drawn from its own test split; what the module defines itself comes first.
"""

import importlib
import json
import random
from pathlib import Path

from handlers import handler_class
from handlers.messages import Request
from harness.load import Call, difference
from harness.settings import CHECKPOINTS, ROOT, model_families
from models.checkpoint import load_checkpoint


def family_module(model):
    """Model → its module of examples and rules, families/<model>.py."""
    return importlib.import_module(f"families.{model}")


def hook(model, name, default=None):
    """Model and the name of something its families/<model>.py may hold → it, or what the
    module's EXAMPLES object holds by that name (the rules of the family's kind), or `default`."""
    module = family_module(model)
    return getattr(module, name, getattr(getattr(module, "EXAMPLES", None), name, default))


def tolerance(model) -> float:
    return hook(model, "TOLERANCE", 0.0)


def subject(role, optional=False):
    """A check, benchmark or test ("benchmark", "crash", "archive", …) → the family whose examples
    say it is its subject; with `optional`, None when no family does (a repository whose example
    families were removed still benchmarks its own)."""
    found = [model for model in model_families() if role in hook(model, "SUBJECT_OF", ())]
    if optional and not found:
        return None
    if len(found) != 1:
        raise LookupError(f"{len(found)} families name themselves the subject of {role!r} "
                          "(SUBJECT_OF in families/<family>.py): exactly one must")
    return found[0]


def sample(model):
    """Model → (sample path, content type) from its handler's `sample`, or None when it has none."""
    try:
        path, content_type = handler_class(model).sample
    except (ImportError, ValueError):  # not a family of ours, or no sample declared
        return None
    return ROOT / path, content_type


def sample_body(model) -> tuple:
    """Model → (body, content type) of its sample file, as a user would send it."""
    path, content_type = sample(model)
    return Path(path).read_bytes(), content_type


def tensor(name, shape, datatype, data) -> dict:
    """A v2 tensor, as a request's input or an answer's output."""
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def gpu_difference(model, expected, got) -> str:
    """A served answer on a GPU and the CPU's → "" when they agree by the family's rule."""
    check = hook(model, "gpu_difference")
    if check is not None:
        return check(expected, got)
    return difference(expected, got, hook(model, "GPU_TOLERANCE", tolerance(model)))


def expect(handler, model, bodies) -> list:
    """(body, content type) pairs → Calls carrying the handler's answer to each, computed one by one."""
    calls = []
    for body, content_type in bodies:
        [answer] = handler.handle([Request(body, content_type)])
        calls.append(Call(model, body, content_type, answer.status,
                          json.loads(answer.to_bytes()), tolerance(model)))
    return calls


def calls_for(model, checkpoints=CHECKPOINTS, size=60):
    """Model → (good calls, bad calls), each with its in-process answer and status; good calls
    whose answer the family calls uncertain are left out."""
    checkpoint = load_checkpoint(Path(checkpoints) / model / "model.pt")
    handler = handler_class(model)(checkpoint)
    good, bad = hook(model, "bodies")(checkpoint, size)
    certain = hook(model, "certain", lambda call: True)
    return ([call for call in expect(handler, model, good) if certain(call)],
            expect(handler, model, bad))


def mixed_calls(models, count, bad_share=0.05, checkpoints=CHECKPOINTS, seed=0) -> list:
    """`count` calls spread evenly over `models`, a `bad_share` of them bad, in a seeded random order."""
    pools = {model: calls_for(model, checkpoints) for model in models}
    pick = random.Random(seed)
    calls = []
    for index in range(count):
        good, bad = pools[models[index % len(models)]]
        calls.append(pick.choice(bad if pick.random() < bad_share else good))
    pick.shuffle(calls)
    return calls
