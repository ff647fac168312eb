"""What one request comes to: an answer to interpret, a failure that ends the hop, or one worth retrying."""

from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass

from ..models import Fingerprint, LinkStatus, Via
from .backend import BlockedAddress, NameResolutionError
from .client import RequestFailed, RequestTimedOut, UnusableURL

__all__ = ["HopFailed", "Interpreted", "Transient", "classify"]

log = logging.getLogger("archiver.resolve")


class HopFailed(Exception):
    """A failure that ends a hop: its status (``dns_error``, ``blocked``...) and message."""

    def __init__(
        self,
        status: LinkStatus,
        error: str,
        *,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.http_status = http_status
        self.retry_after = retry_after  # seconds the server asked to wait before the next try

    def copy(self) -> HopFailed:
        """Return the same failure without a traceback, context or cause."""
        return HopFailed(self.status, self.error, http_status=self.http_status, retry_after=self.retry_after)

    def __reduce__(self) -> tuple[type[HopFailed], tuple[LinkStatus, str], dict[str, float | None]]:
        # Pickled whole (a cluster worker sends its hops' failures back): the keyword
        # arguments are state, which Exception's own pickling would drop.
        return (
            HopFailed,
            (self.status, self.error),
            {"http_status": self.http_status, "retry_after": self.retry_after},
        )


class Transient(Exception):
    """A response or error worth another attempt."""

    def __init__(
        self,
        error: str,
        *,
        status: LinkStatus,
        http_status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.http_status = http_status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Interpreted:
    """One answer as read: its status, where it points next (if anywhere), how, and its title."""

    status_code: int
    next_url: str | None  # raw target, not yet joined
    via: Via | None
    title: str | None
    fingerprint: Fingerprint | None = None  # of a final HTML page


def classify(error: Exception) -> Exception:
    """Return the failure a request error stands for: retryable or not, and its status."""
    chain = causes(error)
    if any(isinstance(e, BlockedAddress) for e in chain):
        blocked = next(e for e in chain if isinstance(e, BlockedAddress))
        return HopFailed(LinkStatus.BLOCKED, f"refused: {blocked.reason}")
    if any(isinstance(e, NameResolutionError) for e in chain):
        return HopFailed(
            LinkStatus.DNS_ERROR, str(next(e for e in chain if isinstance(e, NameResolutionError)))
        )
    if any(isinstance(e, ssl.SSLError | ssl.CertificateError) for e in chain):
        detail = next(e for e in chain if isinstance(e, ssl.SSLError | ssl.CertificateError))
        return HopFailed(LinkStatus.TLS_ERROR, f"TLS: {detail}")
    if isinstance(error, RequestTimedOut):
        return Transient(f"timed out ({error})", status=LinkStatus.TIMEOUT)
    if isinstance(error, UnusableURL):
        return HopFailed(LinkStatus.INVALID, f"invalid URL: {error}")
    if isinstance(error, RequestFailed):
        return Transient(str(error), status=LinkStatus.CONNECT_ERROR)
    log.warning("unexpected error resolving a link: %r", error)
    return HopFailed(LinkStatus.CONNECT_ERROR, f"unexpected {type(error).__name__}: {error}")


def causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain
