"""The ``polyglot`` command: thin typer commands over library functions of the same name."""
