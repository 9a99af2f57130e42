"""The `laf` console script."""

from __future__ import annotations

from laf_cli.app import run


def main() -> None:
    run()


if __name__ == "__main__":
    main()
