"""The SSE hub never blocks its publisher, and wakes only the subscribers of that run."""

from __future__ import annotations

import asyncio
import threading

from flwd.entrypoints.http.sse import EventHub


def _publish_from_a_thread(hub: EventHub, run_id: str, times: int) -> bool:
    """Notify *times* from another thread, as a run's output pump does; True if it finished."""
    publisher = threading.Thread(target=lambda: [hub.notify(run_id) for _ in range(times)])
    publisher.start()
    publisher.join(30)
    return not publisher.is_alive()


def test_notify_never_blocks_when_subscriber_does_not_consume() -> None:
    hub = EventHub()

    async def scenario() -> bool:
        with hub.subscribe("r1") as wakeup:
            # a blocking notify would never let the publisher finish
            finished = _publish_from_a_thread(hub, "r1", 20_000)
            await asyncio.wait_for(wakeup.wait(), 5)
            return finished

    assert asyncio.run(scenario())


def test_notify_wakes_only_subscribers_of_that_run() -> None:
    hub = EventHub()

    async def scenario() -> tuple[bool, bool]:
        with hub.subscribe("a") as a, hub.subscribe("b") as b:
            threading.Thread(target=hub.notify, args=("a",)).start()
            await asyncio.wait_for(a.wait(), 1)
            await asyncio.sleep(0.05)
            return a.is_set(), b.is_set()

    assert asyncio.run(scenario()) == (True, False)


def test_subscription_is_removed_when_stream_ends() -> None:
    hub = EventHub()

    async def scenario() -> int:
        with hub.subscribe("r"):
            assert hub.subscriber_count("r") == 1
        return hub.subscriber_count("r")

    assert asyncio.run(scenario()) == 0


def test_notify_ignores_subscriber_whose_loop_is_closed() -> None:
    hub = EventHub()
    loop = asyncio.new_event_loop()
    subscription = hub.subscribe("r")

    async def enter() -> None:
        subscription.__enter__()

    loop.run_until_complete(enter())
    loop.close()

    hub.notify("r")  # must not raise

    assert hub.subscriber_count("r") == 1


def test_notify_wakes_the_stream_again_when_a_burst_was_already_taken() -> None:
    """A burst of notifies schedules one wake-up; the next notify after it ran wakes again."""
    hub = EventHub()

    async def scenario() -> bool:
        with hub.subscribe("r") as wakeup:
            _publish_from_a_thread(hub, "r", 1_000)
            await asyncio.wait_for(wakeup.wait(), 5)
            await asyncio.sleep(0.05)  # every wake-up of the burst has run
            wakeup.clear()
            threading.Thread(target=hub.notify, args=("r",)).start()
            await asyncio.wait_for(wakeup.wait(), 5)
            return wakeup.is_set()

    assert asyncio.run(scenario())
