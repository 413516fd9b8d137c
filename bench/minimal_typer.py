"""The baseline of `pshctl`'s start-up benches: a minimal typer app, run the same way.

Two commands with an argument each (one command alone would make typer drop the command
level); typer's defaults otherwise, so its completion protocol answers Tab requests:

    _MINIMAL_COMPLETE=complete_bash COMP_WORDS="minimal he" COMP_CWORD=1 python minimal_typer.py
"""

import typer

app = typer.Typer(help="A minimal typer app.")


@app.command()
def hello(name: str) -> None:
    """Say hello."""
    typer.echo(f"hello {name}")


@app.command()
def bye(name: str) -> None:
    """Say goodbye."""
    typer.echo(f"bye {name}")


if __name__ == "__main__":
    app(prog_name="minimal")
