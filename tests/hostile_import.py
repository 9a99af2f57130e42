"""A module whose import ends the process that imports it (as `venv.__main__` does): a
`python` task naming it must fail its attempt, not stop the runner."""

import sys

sys.exit(2)
