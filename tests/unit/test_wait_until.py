"""tests.support.wait_until, the tests' one way to wait for an event: it returns what the
condition found, takes plain and async conditions, and fails saying what it waited for."""

from __future__ import annotations

import asyncio

import pytest

from tests.support import wait_until


async def test_the_conditions_value_is_returned_once_it_is_truthy():
    looks = []

    async def third_look() -> dict | None:
        looks.append(1)
        return {"ready": True} if len(looks) == 3 else None

    assert await wait_until(third_look, 5, "the third look", every_s=0) == {"ready": True}
    assert len(looks) == 3


async def test_a_plain_function_is_a_condition_too():
    items: list[int] = []
    asyncio.get_running_loop().call_later(0.02, items.append, 7)
    assert await wait_until(lambda: items, 5, "an item", every_s=0.005) == [7]


async def test_the_timeout_fails_naming_what_was_awaited():
    with pytest.raises(AssertionError, match=r"^waited 0.05 s for the impossible$"):
        await wait_until(lambda: False, 0.05, "the impossible", every_s=0.01)


async def test_a_timeout_inside_the_condition_is_its_own_error_not_the_waits():
    async def stuck() -> bool:
        await asyncio.wait_for(asyncio.Event().wait(), 0.01)
        return True

    with pytest.raises(TimeoutError):
        await wait_until(stuck, 5, "a condition that times out")
