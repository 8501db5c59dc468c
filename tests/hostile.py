"""What a malicious checkpoint or archive would carry, for the tests that refuse it."""

import os


class WritesMarker:
    """Unpickling this runs os.system: what a malicious checkpoint would carry."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))
