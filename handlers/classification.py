"""What a classifier answers, whatever it reads: the likeliest class and its probability."""

import torch

PROBABILITY_DECIMALS = 4


def likeliest_class(output: torch.Tensor, labels) -> dict:
    """One example's logit of the second class (two classes, a 0-d tensor) or its logits, one
    per class → {"label", "probability"}, the probability to PROBABILITY_DECIMALS decimals."""
    output = output.double()
    if output.dim() == 0:
        second = float(torch.sigmoid(output))
        probabilities = [1.0 - second, second]
    else:
        probabilities = torch.softmax(output, dim=0).tolist()
    best = max(range(len(probabilities)), key=probabilities.__getitem__)
    return {"label": labels[best], "probability": round(probabilities[best], PROBABILITY_DECIMALS)}
