from polyglot.cli.main import app

app()
