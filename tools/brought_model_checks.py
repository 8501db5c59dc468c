"""What a model brought from elsewhere must do before it is written as a family's checkpoint:
answer the family's inputs alone and in a batch alike, answer the family's sample request,
and score on the family's test split, where it has one."""

import json

import torch

from handlers.messages import Request
from harness.examples import hook, sample

BATCH = 3  # rows of the batch check; distinct rows, so a model that mixes rows shows it
# How far a row's output in a batch may stray from its output alone: float32 sums differ in
# the last bits with the batch size.
RELATIVE_TOLERANCE = 1e-4


class BringError(ValueError):
    """A brought model that cannot be served as the family's: the message says what, in one line."""


def family_inputs(handler, splits) -> list:
    """Handler (and the family's splits, or None) → BATCH distinct model inputs of one example each:
    test-split examples by families/<family>.py's split_inputs, else the handler's example_input."""
    split_inputs = hook(handler.family, "split_inputs") if splits is not None else None
    inputs = split_inputs(handler)[:BATCH] if split_inputs else []
    return inputs if len(inputs) == BATCH else [handler.example_input()] * BATCH


def one_line(error: Exception) -> str:
    """An exception → "Type: first line of its message"."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"


def run(handler, inputs, what: str) -> torch.Tensor:
    """Per-example model inputs → the handler's batched output for them; raises BringError naming
    `what` when the model fails or answers another number of rows."""
    try:
        with torch.inference_mode():
            output = handler.inference(handler.collate(inputs))
    except Exception as error:  # the user's model: any failure is a refusal, said in one line
        raise BringError(f"the model fails on the family's input {what}: "
                         f"{one_line(error)}") from None
    if not isinstance(output, torch.Tensor) or len(output) != len(inputs):
        rows = len(output) if isinstance(output, torch.Tensor) else type(output).__name__
        raise BringError(f"the model answers {rows} rows for {len(inputs)} examples {what}; it must "
                         "answer one row per example (a single tensor)")
    return output


def check_batches(handler, inputs) -> torch.Tensor:
    """Handler and BATCH inputs → the batched output, once it equals each example's output alone
    and a second run; raises BringError otherwise."""
    alone = torch.cat([run(handler, [one], "at batch 1") for one in inputs])
    together = run(handler, inputs, f"at batch {len(inputs)}")
    again = run(handler, inputs, f"at batch {len(inputs)}, run again")
    if not torch.equal(together, again):
        raise BringError("the model answers the same batch differently each time: was it saved "
                         "in training mode (dropout)? call model.eval() before saving")
    if not torch.allclose(together.double(), alone.double(), rtol=RELATIVE_TOLERANCE, atol=1e-6):
        raise BringError(f"the model's answers for {len(inputs)} examples in one batch differ from "
                         "their answers one at a time: it mixes rows of a batch")
    return together


def check_labels(output: torch.Tensor, labels):
    """A batched classifier output and the labels → nothing when it gives one score per label."""
    if output.dim() == 2 and len(labels) > 1 and output.shape[1] != len(labels):
        raise BringError(f"the model gives {output.shape[1]} scores per example, and the family "
                         f"has {len(labels)} labels ({', '.join(labels)}); pass --labels")


def sample_answer(handler):
    """Handler → its answer to the family's sample request, as a client would get it; raises
    BringError when it is not a 200."""
    path, content_type = sample(handler.family)
    [answer] = handler.handle([Request(path.read_bytes(), content_type)])
    body = json.loads(answer.to_bytes())
    if answer.status != 200:
        raise BringError(f"the family's sample request {path.name} gets {answer.status}: {body}")
    return body


def split_report(handler, splits, labels) -> dict:
    """Handler and the family's splits (None: it has none) → the brought model's test-split
    figures: a classifier's accuracy report or a regressor's against its baselines."""
    # Imported here: training's reports pull in scikit-learn, which serving never needs.
    from training.classification import classifier_report
    from training.regression import regressor_report

    if splits is None:
        return {"test_split": f"none: families/{handler.family}.py has no evaluation_splits()"}
    inputs = splits.test_x.to(handler.model_dtype)
    if splits.test_y.is_floating_point():
        report = regressor_report(handler.model, splits, "brought_model")
    else:
        report = classifier_report(handler.model, inputs,
                                   in_label_order(splits.test_y, splits, labels), list(labels),
                                   in_label_order(splits.train_y, splits, labels))
    return {"split": "test", "rows": len(splits.test_y), **report}


def in_label_order(targets, splits, labels):
    """Class ids in the splits' order of classes → the same classes' places in `labels`, the
    model's output order; raises BringError when `labels` are not the splits' classes."""
    classes = list(getattr(splits, "classes", None) or labels)
    if sorted(classes) != sorted(labels):
        raise BringError(f"the labels ({', '.join(labels)}) are not the family's classes "
                         f"({', '.join(classes)}); name the same classes in the model's order")
    return torch.tensor([list(labels).index(classes[target]) for target in targets.tolist()])


def report_lines(report: dict) -> list:
    """Test-split figures → the lines bring_model prints, with a warning where the model does no
    better than a baseline (classes in another order? features in other units?)."""
    if "split" not in report:
        return [f"test split: {report['test_split']}"]
    if "accuracy" in report:
        lines = [f"test split ({report['rows']} rows): accuracy {report['accuracy']:.3f}, "
                 f"always the commonest class {report['majority_class_accuracy']:.3f}"]
        if report["accuracy"] <= report["majority_class_accuracy"]:
            lines.append("warning: no better than always answering the commonest class; are the "
                         "labels in the model's order? (--labels)")
        return lines
    ours, mean = report["brought_model"], report["mean_predictor"]
    lines = [f"test split ({report['rows']} rows): RMSE {ours['rmse']:.2f}, R² {ours['r2']:.3f} "
             f"(training mean: RMSE {mean['rmse']:.2f}; linear regression: R² "
             f"{report['linear_regression']['r2']:.3f})"]
    if ours["rmse"] >= mean["rmse"]:
        lines.append("warning: no better than predicting the training mean; does the model read "
                     "the features in the family's order and units?")
    return lines
