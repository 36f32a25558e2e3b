"""The ``forage`` command line. Only the CLI reads the environment and owns the terminal."""
