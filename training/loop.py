"""A small training loop shared by the model families: epochs, progress lines, early stopping."""

import copy
import time

import torch

EVALUATION_CHUNK = 512  # rows per forward pass when validation inputs are padded per chunk


def fit(model, loss_fn, optimizer, train_x, train_y, val_x, val_y, *, epochs, batch_size,
        patience, generator, augment=None, max_batches=None, log=print):
    """Train `model` in place; returns the per-epoch history and keeps the best validation weights.

    Stops early once validation loss has not improved for `patience` epochs.
    `augment(batch, generator)` transforms training batches only.
    """
    history = []
    best_loss, best_state, stale = float("inf"), None, 0
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_x), generator=generator)
        total, seen = 0.0, 0
        for step, start in enumerate(range(0, len(order), batch_size)):
            if max_batches is not None and step >= max_batches:
                break
            index = order[start:start + batch_size]
            inputs, targets = train_x[index], train_y[index]
            if augment is not None:
                inputs = augment(inputs, generator)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)
            seen += len(index)

        val_loss, val_accuracy = evaluate_loss(model, loss_fn, val_x, val_y)
        record = {"epoch": epoch, "train_loss": total / max(seen, 1), "val_loss": val_loss}
        if val_accuracy is not None:
            record["val_accuracy"] = val_accuracy
        history.append(record)
        log(f"epoch {epoch:3d}/{epochs}  train_loss {record['train_loss']:.4f}  "
            f"val_loss {val_loss:.4f}"
            + (f"  val_acc {val_accuracy:.4f}" if val_accuracy is not None else "")
            + f"  ({time.perf_counter() - started:.1f}s)")

        if val_loss < best_loss:
            best_loss, best_state, stale = val_loss, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= patience:
                log(f"early stop: validation loss has not improved for {patience} epochs")
                break

    model.load_state_dict(best_state)
    model.eval()
    return history


@torch.inference_mode()
def evaluate_loss(model, loss_fn, inputs, targets):
    """(inputs, targets) → (mean loss, accuracy or None) with the model in eval mode.

    Inputs that are not one tensor (texts padded per batch) are scored in chunks.
    """
    model.eval()
    if torch.is_tensor(inputs):
        outputs = model(inputs)
    else:
        outputs = torch.cat([model(inputs[start:start + EVALUATION_CHUNK])
                             for start in range(0, len(inputs), EVALUATION_CHUNK)])
    loss = float(loss_fn(outputs, targets))
    accuracy = None
    if targets.dtype == torch.int64 and outputs.dim() == 2:
        accuracy = float((outputs.argmax(1) == targets).float().mean())
    elif targets.dtype == torch.int64 and outputs.dim() == 1:  # one logit of the second class
        accuracy = float(((outputs > 0).long() == targets).float().mean())
    return loss, accuracy
