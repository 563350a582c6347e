"""The private RabbitMQ fixture itself: a node of its own that takes logins on its port, keeps
its files in its temp dir, isolates tests by virtual host, and leaves nothing running."""

from __future__ import annotations

import os

import kombu

from tests.integration.rabbit_support import RabbitNode, running_rabbit


def _pids_of(user_env: str) -> list[int]:
    """Processes whose environment names *user_env* (this node's epmd port, say)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as env:
                    if user_env.encode() in env.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_node_takes_messages_in_its_own_dir_and_leaves_nothing_running_when_removed() -> None:
    with running_rabbit() as node:
        url = node.new_vhost()
        with kombu.Connection(url) as connection:
            queue = connection.SimpleQueue("selftest")
            queue.put({"hello": "rabbit"})
            queue.close()
        depths = node.depths(url.rsplit("/", 1)[1])
        data_dir, marker = node.data_dir, f"ERL_EPMD_PORT={node.epmd_port}"
        running = _pids_of(marker)

    assert depths == {"selftest": 1}
    assert len(running) >= 2  # its epmd and its Erlang VM, at least
    assert not data_dir.exists() and _pids_of(marker) == []


def test_node_refuses_a_login_when_the_password_is_wrong(rabbit_node: RabbitNode) -> None:
    wrong = rabbit_node.url.replace(rabbit_node.password, "not-the-password")

    assert rabbit_node.answers()
    assert not rabbit_node.answers(wrong)
