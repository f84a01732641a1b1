from nutx_cli.cli.main import run

run()
