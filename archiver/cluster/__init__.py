"""Resolving on a Dask cluster: each hop asked by the worker that owns its host.

The coordinator (the process that runs the command and holds the database) follows
every chain; each hop is handed to the one worker that owns its host (``owners``:
rendezvous hashing of the host name), which asks it within that host's limits
(``worker.HopOwner``, a Dask actor), and the answer comes back to be stored like a
single-machine run's (``remote.ClusterAsker``).  ``connect`` reaches the scheduler, or
starts a local cluster, and is the only module that imports Dask.
"""

from __future__ import annotations

from .connect import hop_owners
from .owners import Owners
from .remote import ClusterAsker, ClusterLost
from .worker import HopOwner

__all__ = ["ClusterAsker", "ClusterLost", "HopOwner", "Owners", "hop_owners"]
