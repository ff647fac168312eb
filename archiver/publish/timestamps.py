"""RFC 3161 time-stamps of an evidence package: asked of a time-stamping authority, checked later.

The token covers the SHA-256 of the package's ``datapackage.json``, which lists the
SHA-256 of every other file: one token dates the whole package.  The request goes
through archiver's HTTP stack (address guard, --proxy, time limit); rfc3161-client builds
the request and reads and verifies the answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from dataclasses import dataclass
from typing import Any

import rfc3161_client
from cryptography import x509

from ..http import Answer, HopFailed, HostClients, HostLimiter, ResolverSettings, ask
from ..urls import hostname

__all__ = ["TimestampError", "TokenCheck", "check_token", "request_timestamp"]

# A time-stamp reply is a few KB.
REPLY_CAP = 1024 * 1024


class TimestampError(Exception):
    """The authority could not be asked, or its answer is no token for the package."""


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """What a package's time-stamp token says, and whether its signature was checked."""

    time: str  # when the authority saw the digest, UTC
    authority: str
    signature_checked: bool
    problem: str | None = None


def request_timestamp(data: bytes, url: str, settings: ResolverSettings) -> dict[str, Any]:
    """Return the time-stamp of ``data``'s SHA-256 that the authority at ``url`` answers, as JSON."""
    request = (
        rfc3161_client.TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(rfc3161_client.HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .build()
    )
    reply = asyncio.run(_post(url, request.as_bytes(), settings))
    try:
        answer = rfc3161_client.decode_timestamp_response(reply)
    except ValueError as ex:
        raise TimestampError(f"{url}: the answer is no time-stamp reply ({ex})") from ex
    if answer.status not in (0, 1):  # granted, granted with modifications
        raise TimestampError(
            f"{url}: the authority refused the request ({answer.status_string or answer.status})"
        )
    if answer.tst_info.message_imprint.message != hashlib.sha256(data).digest():
        raise TimestampError(f"{url}: the token is for another digest than the package's")
    if answer.tst_info.nonce != request.nonce:
        raise TimestampError(f"{url}: the token does not answer this request (nonce)")
    return {
        "authority": url,
        "time": answer.tst_info.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "token": base64.b64encode(reply).decode("ascii"),
    }


def check_token(data: bytes, stamp: dict[str, Any], roots: list[bytes]) -> TokenCheck:
    """Check a package's time-stamp against ``data`` (its datapackage.json) and, given the
    authority's root certificates (PEM), the token's signature."""
    authority = str(stamp.get("authority", ""))
    try:
        answer = rfc3161_client.decode_timestamp_response(base64.b64decode(str(stamp.get("token", ""))))
        time = answer.tst_info.gen_time.strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError as ex:
        return TokenCheck("", authority, False, f"the time-stamp token cannot be read ({ex})")
    digest = hashlib.sha256(data).digest()
    if answer.tst_info.message_imprint.message != digest:
        return TokenCheck(time, authority, False, "the time-stamp is of another datapackage.json")
    if not roots:
        return TokenCheck(time, authority, False)
    builder = rfc3161_client.VerifierBuilder()
    try:
        for pem in roots:
            builder = builder.add_root_certificate(x509.load_pem_x509_certificate(pem))
        builder.build().verify(answer, digest)
    except (rfc3161_client.VerificationError, ValueError) as ex:
        return TokenCheck(time, authority, False, f"the time-stamp's signature does not verify ({ex})")
    return TokenCheck(time, authority, True)


async def _post(url: str, request: bytes, settings: ResolverSettings) -> bytes:
    clients = HostClients(per_host=1, **settings.client_options())
    limiter = HostLimiter(1, sleep=asyncio.sleep)

    async def read(answer: Answer) -> bytes:
        body, cut = await answer.read(REPLY_CAP)
        if answer.status != 200 or cut:
            raise TimestampError(
                f"{url}: HTTP {answer.status}" if answer.status != 200 else f"{url}: too long"
            )
        return body

    try:
        return await ask(
            url,
            read,
            clients=clients,
            limiter=limiter,
            settings=settings,
            timeout=settings.timeout,
            method="POST",
            headers={"Content-Type": "application/timestamp-query", "Accept": "application/timestamp-reply"},
            content=request,
        )
    except HopFailed as failure:
        raise TimestampError(f"{hostname(url)}: {failure.error}") from failure
    except Exception as ex:  # noqa: BLE001 - a Transient failure (429, 503) or the like: named, not retried
        if isinstance(ex, TimestampError):
            raise
        raise TimestampError(f"{url}: {ex}") from ex
    finally:
        await clients.aclose()
