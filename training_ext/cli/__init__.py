"""The command lines: parse arguments, call the library, print one-line errors."""
