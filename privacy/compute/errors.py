"""The one exception of the compute layer."""


class ComputeError(RuntimeError):
    """A computation that cannot run or complete; the message is bilingual ("中文 / English")."""
