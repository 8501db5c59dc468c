"""How a family's outputs in two formats are compared (tools.compare_formats), for the kinds of
families that answer a class."""


def classes_agree(expected, got) -> str:
    """Eager and format outputs ([N] logits of the second class, or [N, C] logits) → "" when
    every answered class agrees, else how many differ."""
    def answered(outputs):
        return (outputs > 0).long() if outputs.dim() == 1 else outputs.argmax(-1)
    differ = int((answered(expected) != answered(got)).sum())
    return f"{differ} of {len(expected)} classes differ" if differ else ""
