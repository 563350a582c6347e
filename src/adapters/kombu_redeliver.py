"""Handing a lost worker's unacknowledged message back to its queue, as it is, on kombu
(Celery's messaging library): how a run whose secrets travelled only in that message is
queued again (``RunQueue.redeliver``).

kombu's Redis transport emulates acknowledgement: a delivered message waits in the ``unacked``
hash (by delivery tag) until its consumer acknowledges it, or until ``visibility_timeout``
passes and some consumer's ``restore_visible`` puts it back. kombu 5.7 refreshes nothing for a
live consumer, so a short visibility timeout would also hand back the messages of runs still
running; instead the sweeper that found the run lost looks its message up by run id and puts
it back at once with kombu's own ``QoS.restore_by_tag`` (one Redis transaction, so two
sweepers or a concurrent ``restore_visible`` never both move it). RabbitMQ needs nothing: it
gives a closed connection's unacknowledged messages back by itself.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any


def redeliver(connection: Any, task_name: str, run_id: str) -> bool:
    """Put back every unacknowledged *task_name* message for *run_id* on the broker of
    *connection* (connected); True when one was found, or when the broker redelivers by
    itself (not Redis)."""
    if connection.transport.driver_type != "redis":  # a real broker: it does this itself
        return True
    channel = connection.default_channel
    qos = channel.qos
    client = channel.client
    tags = [tag for tag, raw in client.hscan_iter(channel.unacked_key)
            if run_of(raw, task_name) == run_id]
    for tag in tags:
        qos.restore_by_tag(tag, client=client)
    return bool(tags)


def run_of(raw: bytes, task_name: str) -> str | None:
    """The run id of one ``unacked`` entry (``[message, exchange, routing_key]``, the message
    a Celery protocol 2 task whose body is ``[args, kwargs, embed]``); None for anything else.
    The sealed secrets in the arguments are read past, never opened."""
    try:
        message = json.loads(raw)[0]
        if message["headers"]["task"] != task_name:
            return None
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        run_id = json.loads(body)[0][0]
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error):
        return None
    return run_id if isinstance(run_id, str) else None
