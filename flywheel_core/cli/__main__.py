"""``python -m flywheel_core.cli``."""

from flywheel_core.cli import main

main()
