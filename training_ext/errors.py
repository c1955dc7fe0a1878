"""The one exception type user-facing commands turn into a one-line message and exit code 2."""


class UserError(Exception):
    """Bad input from the user: the message names what is wrong and how to fix it."""
