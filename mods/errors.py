"""Errors raised by MODS, with messages a user can act on.

Every error is a :class:`ModsError`; the service turns them into HTTP 400 answers and the
command line into exit status 2 with a one-line message.
"""

import logging

LOG = logging.getLogger("mods.errors")


class ModsError(Exception):
    """Base class of every error MODS raises on purpose (bad input, missing model...).

    ``status`` is the HTTP status the service answers it with (400 unless a subclass says
    otherwise).
    """

    status = 400

    def __init__(self, message):
        message = " ".join(str(message).split())  # always one line
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message

    def __reduce__(self):
        # Picklable across DEEPaaS's worker processes with the message intact.
        return (self.__class__, (self.message,))


class DataError(ModsError, ValueError):
    """The data given (file, upload, columns) cannot be used."""


class ConfigError(ModsError, ValueError):
    """A hyper-parameter or option is out of range or unknown (e.g. an unknown model type)."""


class ModelNotFound(ModsError, LookupError):
    """No model bundle of that name exists in the models folder."""


class BundleError(ModsError):
    """A file is not a valid MODS model bundle (wrong members, version, corrupt zip)."""


class WorkerLost(ModsError):
    """A worker process died before finishing its task (killed, out of memory, crashed).

    Not the request's fault: the service answers 503, and the same request may be sent
    again (the worker has been replaced).
    """

    status = 503


def fail(exc_class, message, logger=LOG):
    """Log ``message`` and return ``exc_class(message)`` for the caller to raise.

    Examples
    --------
    >>> raise fail(DataError, "file.tsv: no numeric column")  # doctest: +SKIP
    """
    logger.info("%s: %s", exc_class.__name__, message)
    return exc_class(message)
