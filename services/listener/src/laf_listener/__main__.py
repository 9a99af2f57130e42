"""`laf-listener`: the outbox relay, one of N replicas."""

from __future__ import annotations

from laf_core import service
from laf_listener.relay import Relay
from laf_listener.settings import ListenerSettings


def main() -> None:
    service.serve("listener", lambda common, metrics: Relay(common, ListenerSettings(), metrics))


if __name__ == "__main__":
    main()
