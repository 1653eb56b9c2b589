"""``python -m hookplane.cli``."""

from hookplane.cli.main import main

main()
