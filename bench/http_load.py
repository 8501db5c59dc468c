"""Requests at a fixed concurrency for a fixed time → one checked Outcome per answer.

One asyncio process keeps `concurrency` requests in flight over kept-alive
connections. On a 2-core machine the load generator shares the CPU with the
server it measures, and 64 client threads with `requests` (harness.load)
would take a large part of it; an event loop costs far less per request.
Calls, the check of each answer and the Outcome records are harness.load's,
so a request counts as served only when its status and body are the expected ones.
"""

import asyncio
import itertools
import time

import aiohttp

from harness.load import Outcome, judge
from harness.torchserve import HTTP_TIMEOUT


async def _client(session, url_for, calls, headers, deadline, timeout_s, outcomes):
    """One client: send the next call as soon as the last one was answered, until the deadline."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    for call in calls:
        if time.monotonic() >= deadline:
            return
        started = time.monotonic()
        try:
            async with session.post(url_for(call), data=call.body, timeout=timeout,
                                    headers={"Content-Type": call.content_type, **headers()}) as reply:
                body = await reply.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            outcomes.append(Outcome(call, started, time.monotonic() - started, None,
                                    f"no answer: {type(error).__name__}", str(error)[:200]))
            continue
        seconds = time.monotonic() - started
        problem = judge(call, reply.status, body)
        message = body[:200].decode(errors="replace") if reply.status != call.status else ""
        outcomes.append(Outcome(call, started, seconds, reply.status, problem, message))


async def _load(url_for, calls, concurrency, seconds, headers, timeout_s):
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    outcomes = []
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.monotonic()
        deadline = started + seconds
        # Each client starts at its own place in the list, so a mixed list stays mixed.
        clients = [_client(session, url_for, itertools.islice(itertools.cycle(calls), index, None),
                           headers, deadline, timeout_s, outcomes)
                   for index in range(concurrency)]
        await asyncio.gather(*clients)
        return outcomes, time.monotonic() - started


def run_load(url_for, calls, concurrency, seconds, headers=dict, timeout_s=HTTP_TIMEOUT):
    """URL of a call, calls to cycle through, requests in flight, seconds, auth headers →
    (outcomes in the order answered, seconds from the first request to the last answer)."""
    return asyncio.run(_load(url_for, list(calls), concurrency, seconds, headers, timeout_s))
