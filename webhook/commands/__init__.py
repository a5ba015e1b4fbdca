"""The ``celgate`` subcommands, one module each (``register(subparsers)`` and ``run(args) -> int``)."""
