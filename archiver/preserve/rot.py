"""Whether a link still shows what was linked: one rot verdict a check, with the rule and what it saw.

A check that ends in 200 is not always the page that was linked.  The rules, in the
order they are tried (the first that matches gives the verdict):

1. **dead**: the check failed (a 404, a dead host, a loop...).
2. **parked**: the chain passes through a domain-parking or domain-sale service, or the
   page says the domain is for sale or has expired.
3. **soft_404**: the page's title or main heading says "not found" (in the common
   languages), or a short page's text says it or shows a bare 404.
4. **front_page**: a deep link lands on the front page of a site, or on a login or
   consent page.
5. **soft_404**: the host answers a path that cannot exist (the probe) with the same
   page as the link's.
6. **domain_changed**: the final registered domain is not that of the first good check.
7. **content_changed**: the page's text hash differs from the first good check's by
   more than ``CHANGED_BITS`` of 64 bits (the titles, when the text was too short).
8. **none**: nothing of the above.

Links that were never requested (pending, blocked, invalid, truncated) get no verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..domains import domain_or_host
from ..models import Fingerprint, FirstGood, LinkStatus, Probe, Resolution, Rot, Via
from ..resolve import text_distance
from ..urls import hostname, is_deep, is_shortener

__all__ = ["CHANGED_BITS", "DEAD_STATUSES", "Verdict", "first_good_of", "judge"]

# More differing bits of the 64-bit text hash than this: the page shows something else.
# The same article with other ads, dates and comment counts differs in a few bits;
# unrelated texts in about 32.
CHANGED_BITS = 12
# At most this many differing bits: the link's page is the page the probe got.
SAME_PAGE_BITS = 6

# Statuses of a check that failed: the link is dead for now.
DEAD_STATUSES = frozenset(
    {
        LinkStatus.HTTP_ERROR,
        LinkStatus.TIMEOUT,
        LinkStatus.DNS_ERROR,
        LinkStatus.CONNECT_ERROR,
        LinkStatus.TLS_ERROR,
        LinkStatus.TOO_MANY_REDIRECTS,
        LinkStatus.REDIRECT_LOOP,
    }
)

# Domain-parking and domain-sale services: a chain through one of these hosts (or their
# subdomains) ends on a parked domain.
PARKING_DOMAINS = frozenset(
    {
        *("sedoparking.com", "sedo.com", "parkingcrew.net", "bodis.com", "above.com", "dan.com"),
        *("afternic.com", "hugedomains.com", "buydomains.com", "undeveloped.com", "efty.com"),
        *("domainmarket.com", "parklogic.com", "voodoo.com", "skenzo.com", "smartname.com"),
        *("fabulous.com", "domainnamesales.com", "brandbucket.com", "squadhelp.com", "atom.com"),
        *("parkingpage.namecheap.com", "domainparking.ru", "parked.com", "park.io", "sav.com"),
        *("epik.com", "uniregistry.com", "domainlore.uk", "perfectdomain.com", "namesilo.com"),
    }
)
# What parking and sale pages say, lower case, in the languages they are most often in.
PARKING_PHRASES = (
    "this domain is for sale",
    "this domain may be for sale",
    "the domain name is for sale",
    "domain is for sale",
    "buy this domain",
    "this domain name is available for purchase",
    "is available for purchase",
    "this domain has expired",
    "this domain name has expired",
    "domain has expired",
    "this domain is parked",
    "parked free, courtesy of",
    "parked domain name",
    "diese domain steht zum verkauf",
    "diese domain kaufen",
    "ce nom de domaine est à vendre",
    "ce domaine est à vendre",
    "este dominio está en venta",
    "este dominio esta a la venta",
    "questo dominio è in vendita",
    "deze domeinnaam is te koop",
    "dit domein is te koop",
    "este domínio está à venda",
    # Registrars' own placeholders (OnlyDomains, DonDominio, German hosts).
    "domain parked by",
    "this domain has been parked",
    "parking del dominio",
    "dominio aparcado",
    "dominio parcheggiato",
    "domain nicht aktiv",
    "hier entsteht eine neue internetpräsenz",
    "ce domaine est parqué",
    "domaine parqué",
)
# A title or main heading saying the page is not there.
NOT_FOUND = re.compile(
    r"page (?:was )?not found|page (?:does not|doesn't|cannot|can't|could not|couldn't) "
    r"(?:exist|be found)|no longer (?:available|exists)|nothing (?:was )?found|"
    r"page (?:is|isn't|is not) (?:not )?available any ?more|"
    r"page introuvable|page non trouvée|n'existe plus|seite nicht gefunden|nicht gefunden|"
    r"existiert nicht|página no encontrada|no se encontró|pagina non trovata|"
    r"página não encontrada|pagina niet gevonden|niet gevonden|nie znaleziono|"
    r"nie została znaleziona|sidan kunde inte hittas|siden blev ikke fundet|"
    r"страница не найдена|не найдено|sayfa bulunamadı|"
    r"ページが見つかりません|お探しのページ|找不到|页面不存在|頁面不存在|"
    r"페이지를 찾을 수 없습니다|الصفحة غير موجودة",
    re.IGNORECASE,
)
# "Not found" and "404" say it only as the whole of a title's part ("404 | Shop", "Not
# Found"): "bash: command not found" and "The 404 Media podcast" are articles.
_NOT_FOUND_PART = re.compile(
    r"(?:(?:http |error |erreur |fehler )?404(?: error| erreur| fehler)?[ :.!-]*)?"
    r"(?:(?:file |page |post |article |content |resource )?not found)?[.!]*",
    re.IGNORECASE,
)
# A page this short whose text says "not found" (or shows a bare 404) is a not-found page
# whatever its title (a theme that titles every page with the site's name); an article
# that mentions a 404 is longer.
SHORT_PAGE_WORDS = 150
_BARE_404 = re.compile(r"(?<![\w.,/-])404(?![\w.,/-])")
_TITLE_PARTS = re.compile(r"\s+[|–—·•:-]\s+|\s*[|–—·•]\s*")
# A page that asks to sign in or to accept cookies instead of showing the one linked.
_LOGIN_PATH = re.compile(
    r"(?:^|/)(?:login|log-in|signin|sign-in|sign_in|users/sign_in|auth|authenticate|sso|consent)(?:[/.?]|$)",
    re.I,
)
_LOGIN_HOST = re.compile(r"^(?:login|signin|auth|sso|consent|accounts)\.", re.I)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A check's rot verdict and the evidence for it (None when the link was not requested)."""

    rot: Rot | None
    evidence: str | None = None


def judge(resolution: Resolution, *, first_good: FirstGood | None = None) -> Verdict:
    """Return the rot verdict of one check (see the module's rules)."""
    status = resolution.status
    if status in DEAD_STATUSES:
        return Verdict(Rot.DEAD, f"{status}: {resolution.error or ''}".rstrip(": "))
    if status != LinkStatus.OK or resolution.final_url is None:
        return Verdict(None)
    final_url = resolution.final_url
    page = resolution.fingerprint or Fingerprint()
    for rule in (_parked, _says_not_found, _short_and_not_found, _front_page):
        evidence = rule(resolution, page)
        if evidence is not None:
            return evidence
    if resolution.probe is not None:
        evidence = _like_the_probe(final_url, page, resolution.probe)
        if evidence is not None:
            return evidence
    if first_good is not None:
        domain = domain_or_host(hostname(final_url))
        if first_good.final_domain and domain and domain != first_good.final_domain:
            return Verdict(
                Rot.DOMAIN_CHANGED,
                f"now ends on {domain}; on {first_good.final_domain} at its first good check"
                f" ({first_good.checked_at})",
            )
        evidence = _content_changed(page, first_good)
        if evidence is not None:
            return evidence
    return Verdict(Rot.NONE)


def _parked(resolution: Resolution, page: Fingerprint) -> Verdict | None:
    for hop in resolution.hops:
        host = hostname(hop.url)
        labels = host.split(".")
        # The host, or a domain it is under, is a parking service.
        if any(".".join(labels[i:]) in PARKING_DOMAINS for i in range(len(labels) - 1)):
            return Verdict(Rot.PARKED, f"the chain passes through {host}, a domain-parking or sale service")
    text = f"{page.title or ''}\n{page.heading or ''}\n{page.excerpt}".lower()
    phrase = next((p for p in PARKING_PHRASES if p in text), None)
    if phrase is not None:
        return Verdict(Rot.PARKED, f"the page says “{phrase}”")
    return None


def _says_not_found(resolution: Resolution, page: Fingerprint) -> Verdict | None:
    for name, value in (("title", page.title), ("main heading", page.heading)):
        if value and _says_it(value.replace("\u2019", "'")):
            return Verdict(Rot.SOFT_404, f"answered {resolution.http_status} but its {name} says “{value}”")
    return None


def _short_and_not_found(resolution: Resolution, page: Fingerprint) -> Verdict | None:
    if not page.excerpt or page.words > SHORT_PAGE_WORDS:
        return None
    text = page.excerpt.replace("\u2019", "'")
    said = NOT_FOUND.search(text) or _BARE_404.search(text)
    if said is None:
        return None
    return Verdict(
        Rot.SOFT_404,
        f"answered {resolution.http_status} but its text ({page.words} words) says “{said.group(0)}”",
    )


def _says_it(text: str) -> bool:
    """Return whether a title or heading says the page is not there."""
    if NOT_FOUND.search(text):
        return True
    return any(
        part.strip(" !.?") and _NOT_FOUND_PART.fullmatch(part.strip(" ?"))
        for part in _TITLE_PARTS.split(text.strip())
    )


def _front_page(resolution: Resolution, page: Fingerprint) -> Verdict | None:
    final_url = resolution.final_url or ""
    login = _is_login(final_url)
    if is_deep(final_url) and not login:
        return None  # the common case, decided without looking for what was linked
    intended = _intended_url(resolution)
    if intended is None or intended == final_url:
        return None
    if login and not _is_login(intended):
        return Verdict(Rot.FRONT_PAGE, f"{intended} now lands on a login or consent page: {final_url}")
    if is_deep(intended) and not is_deep(final_url):
        return Verdict(Rot.FRONT_PAGE, f"{intended} now lands on the front page {final_url}")
    return None


def _intended_url(resolution: Resolution) -> str | None:
    """Return the first URL of the chain that is not a shortener's or a wrapper's: what was linked."""
    for hop in resolution.hops:
        if hop.via in (Via.EXPANDED, Via.UNWRAPPED) or is_shortener(hop.url):
            continue
        return hop.url
    return None


def _is_login(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return bool(_LOGIN_HOST.match(parts.hostname or "") or _LOGIN_PATH.search(parts.path))


def _like_the_probe(final_url: str, page: Fingerprint, probe: Probe) -> Verdict | None:
    if probe.status != LinkStatus.OK or probe.fingerprint is None:
        return None
    other = probe.fingerprint
    distance = text_distance(page.text_hash, other.text_hash)
    same_title = bool(page.title) and page.title == other.title
    if probe.final_url == final_url:
        reason = f"lands on {final_url} too"
    elif same_title and (distance is None or distance <= SAME_PAGE_BITS * 2):
        reason = f"shows the same page (title “{page.title}”)"
    elif distance is not None and distance <= SAME_PAGE_BITS:
        reason = f"shows the same text ({distance} of 64 bits differ)"
    else:
        return None
    return Verdict(
        Rot.SOFT_404,
        f"{probe.url}, a path that does not exist, answered {probe.http_status} and {reason}",
    )


def _content_changed(page: Fingerprint, first: FirstGood) -> Verdict | None:
    distance = text_distance(first.text_hash, page.text_hash)
    if distance is not None:
        if distance <= CHANGED_BITS:
            return None
        titles = f"; title “{first.title}” → “{page.title}”" if first.title != page.title else ""
        return Verdict(
            Rot.CONTENT_CHANGED,
            f"{distance} of 64 bits of the text hash differ from the first good check ({first.checked_at})"
            f"{titles}",
        )
    if first.title and page.title and first.title != page.title:
        return Verdict(
            Rot.CONTENT_CHANGED,
            f"title “{first.title}” at the first good check ({first.checked_at}) is now “{page.title}”",
        )
    return None


def first_good_of(resolution: Resolution) -> FirstGood:
    """Return what a good check saw, as a later check is compared with it."""
    page = resolution.fingerprint or Fingerprint()
    return FirstGood(
        resolution.checked_at,
        domain_or_host(hostname(resolution.final_url or "")),
        resolution.title,
        page.text_hash,
    )
