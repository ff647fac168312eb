"""Reaching the cluster: a running Dask scheduler, or a local cluster of N worker processes.

The only module of archiver that imports Dask (``distributed``), and only when a run
asks for a cluster: without ``--cluster`` nothing here is loaded.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from ..http import ResolverSettings
from ..models import ArchiverError
from .remote import ClusterAsker
from .worker import HopOwner

__all__ = ["LOCAL_PREFIX", "cluster_workers", "hop_owners"]

LOCAL_PREFIX = "local:"
# Seconds to reach the scheduler, and for a local cluster's workers (or a remote
# cluster's first worker) to join.
CONNECT_SECONDS = 10
WORKERS_SECONDS = 60


def _local_size(spec: str) -> int | None:
    """Return N for ``local:N``, None for a scheduler's address; raise for a bad N."""
    if not spec.startswith(LOCAL_PREFIX):
        return None
    size = spec.removeprefix(LOCAL_PREFIX)
    if not size.isascii() or not size.isdigit() or not 1 <= int(size) <= 256:
        raise ArchiverError(f"--cluster {spec}: local:N takes a number of workers from 1 to 256")
    return int(size)


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as ex:
        raise ArchiverError(
            f"--cluster needs Dask, which is not installed ({ex}); "
            "install it with: pip install 'archiver[cluster]'"
        ) from None
    return distributed


@asynccontextmanager
async def hop_owners(
    spec: str,
    settings: ResolverSettings,
    *,
    copy_limit: int,
    report: Callable[[str], None] = lambda _: None,
) -> AsyncIterator[ClusterAsker]:
    """Yield an Asker that hands each hop to the cluster worker owning its host.

    ``spec`` is a scheduler's address (``tcp://host:8786``) or ``local:N``, a cluster
    of N worker processes on this machine that lives as long as the run.  Each worker
    gets a ``HopOwner`` with ``settings`` (guard, proxy, timeouts, limits); a scheduler
    that cannot be reached, or a cluster with no worker, is an ArchiverError before
    any request is made.
    """
    local_size = _local_size(spec)
    distributed = _distributed()
    # Dask sets its logger to INFO when loaded; its notices (workers starting, comms
    # closing) are not the run's: warnings only.
    logging.getLogger("distributed").setLevel(logging.WARNING)
    cluster = None
    client = None
    try:
        if local_size is not None:
            cluster = await distributed.LocalCluster(
                n_workers=local_size,
                threads_per_worker=1,
                processes=True,
                asynchronous=True,
                # Its status pages on a free port: two runs on one machine never clash.
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            address = cluster.scheduler_address
        else:
            address = spec
        try:
            client = await distributed.Client(
                address,
                asynchronous=True,
                timeout=CONNECT_SECONDS,
                direct_to_workers=True,
            )
        except (OSError, TimeoutError, ValueError) as ex:
            raise ArchiverError(f"cannot reach the Dask scheduler at {spec}: {ex}") from None
        try:
            await client.wait_for_workers(local_size or 1, timeout=WORKERS_SECONDS)
        except TimeoutError:
            raise ArchiverError(
                f"the Dask cluster at {spec} has no worker (waited {WORKERS_SECONDS} s)"
            ) from None
        addresses = await cluster_workers(client)
        run = uuid.uuid4().hex[:12]
        actors = {}
        for worker in sorted(addresses):
            future = client.submit(
                HopOwner,
                settings,
                copy_limit,
                actor=True,
                workers=[worker],
                allow_other_workers=False,
                pure=False,
                key=f"archiver-hops-{run}-{worker}",
            )
            try:
                # A worker that dies now leaves its task waiting for it for ever.
                async with asyncio.timeout(WORKERS_SECONDS):
                    actors[worker] = await future
            except Exception as ex:  # noqa: BLE001 - whatever stops a worker from taking its part
                raise ArchiverError(
                    f"cluster worker {worker} could not start archiver's hop owner "
                    f"({type(ex).__name__}: {ex}); the same version of archiver[cluster] "
                    "must be installed on every worker"
                ) from None
        report(f"cluster: {len(actors)} workers at {address}")

        async def alive() -> set[str]:
            return await cluster_workers(client)

        async with ClusterAsker(actors, alive, deadline=settings.deadline, report=report) as asker:
            yield asker
    finally:
        if client is not None:
            await client.close()
        if cluster is not None:
            await cluster.close()


async def cluster_workers(client: Any) -> set[str]:
    """Return the addresses of the workers the scheduler knows now."""
    identity = await client.scheduler.identity(n_workers=-1)
    return set(identity.get("workers", {}))
