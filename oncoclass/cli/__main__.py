from oncoclass.cli import app

app()
