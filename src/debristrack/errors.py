"""The one exception type a user sees: bad input, reported as one line with exit code 2."""


class InputError(Exception):
    """Bad input: a file, table or option that cannot be used.

    The message is one line that names the file (or row, or option) and the problem; the
    command line prints it and exits with code 2.
    """


def one_line(text: str) -> str:
    """A message on one line: library errors (wcslib, astropy, zlib) often span several."""
    return " ".join(str(text).split())
