"""The one error type for bad input."""


class InputError(Exception):
    """Bad input (a file, a key, a value or an option); its message is the one line the user sees.

    The message names the file (or option), the key path and what is allowed; the command line
    prints it as ``error: <message>`` and exits with code 2, without a traceback.
    """
