from leoscope.cli.main import run

run()
