"""The suite's error types: each names the bad value and what was expected."""


class BTError(Exception):
    """Base class of every error the suite raises on purpose."""


class ConfigError(BTError, ValueError):
    """A name or value in a configuration or option is unknown or out of range."""


class DataError(BTError):
    """A dataset file or folder is missing, truncated or laid out differently than expected."""


class TrainingError(BTError, RuntimeError):
    """Training cannot go on (non-finite loss, mismatched checkpoint)."""


class BaselineError(BTError):
    """A baseline file is malformed or was recorded under other conditions."""


class MissingDataError(DataError):
    """A dataset the run needs is not where it was expected (a skip at the paper scale)."""


class NotBuiltError(BTError, RuntimeError):
    """A model that judging reads is not in the cache: its build failed or was never planned."""


class BuildFailedError(BTError, RuntimeError):
    """A build handed to an executor raised, or its job died more often than it may be resubmitted."""
