"""Job specs shared by the unit and integration tests of the run path."""

from __future__ import annotations

#: A job with a required and a bounded argument, that needs no relaxation.
HELLO = """\
executor: container
image: alpine:3.20
command: [echo, hello]
args:
  - {name: name, type: string, required: true}
  - {name: level, type: integer, minimum: 1, maximum: 5}
"""
#: A job asking for a network: denied by the plan under the default policy (no runtime needed).
NETTY = "executor: container\nimage: alpine:3.20\ncontainer: {network: bridge}\n"
