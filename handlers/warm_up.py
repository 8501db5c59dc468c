"""A worker's start: one request of its own family answered end to end before any client's."""


def warm_up(handler, log):
    """A family's freshly built ModelHandler and the server's logger → nothing; the handler has
    answered its family's warm-up request (decode, preprocess, inference, postprocess), and the log
    says how long it took. A family with no warm-up request is served cold, with a warning; a
    warm-up request that is not answered 200 raises RuntimeError, and the worker does not start."""
    try:
        seconds = handler.warm_up()
    except NotImplementedError:
        log.warning("%s has no warm_up_request: its first client pays for the lazy set-up",
                    handler.family)
        return
    log.info("warmed up %s in %.0f ms: one request of its own answered end to end",
             handler.family, seconds * 1000)
