"""The archive's views: made anew on every open, so a changed definition needs no migration."""

from __future__ import annotations

from ..models import LinkStatus, Rot

__all__ = ["VIEWS"]

VIEWS = {
    "post_destinations": """
select
  posts.id as post_id, posts.platform, posts.author_handle, posts.posted_at,
  substr(posts.text, 1, 140) || case when length(posts.text) > 140 then '…' else '' end as text,
  posts.url as post_url, post_links.position, links.id as link_id, links.url as link_url,
  links.status, links.final_url, links.final_domain, links.hops
from posts
join post_links on post_links.post_id = posts.id
join links on links.id = post_links.link_id
order by posts.posted_at desc, posts.id, post_links.position
""",
    "failed_links": f"""
select id, url, status, http_status, error, final_url, consecutive_failures,
  first_failed_at, last_checked_at, next_check_at
from links
where status not in ('{LinkStatus.OK}', '{LinkStatus.PENDING}')
order by last_checked_at desc
""",
    "dead_links": f"""
select id, url, status, http_status, error, final_url, final_domain, last_ok_at,
  first_failed_at, consecutive_failures, last_checked_at, archived_url
from links
where rot = '{Rot.DEAD}'
order by first_failed_at desc
""",
    "domain_changes": f"""
select links.id, links.url, earlier.final_domain as earlier_domain,
  links.final_domain as current_domain, earlier.checked_at as earlier_checked_at,
  links.resolved_at as current_resolved_at
from links
join checks as earlier on earlier.link_id = links.id
where earlier.status = '{LinkStatus.OK}' and links.status = '{LinkStatus.OK}'
  and earlier.final_domain is not null and links.final_domain is not null
  and earlier.final_domain != links.final_domain
  and earlier.id = (
    select min(c.id) from checks c where c.link_id = links.id and c.status = '{LinkStatus.OK}'
  )
""",
    "link_chains": """
select links.id, links.url, links.status, links.hops, links.final_url,
  (select group_concat(coalesce(hop.status_code, '-') || ' ' || hop.url, ' -> ')
   from (select status_code, url from redirects where link_id = links.id order by hop) as hop
  ) as chain
from links
""",
    "domains": """
select links.final_domain as domain,
  count(distinct links.id) as links,
  count(distinct post_links.post_id) as posts,
  count(distinct posts.author_handle) as authors,
  (select min(checks.checked_at) from checks where checks.final_domain = links.final_domain)
    as first_reached_at,
  min(links.first_seen_at) as first_seen_at,
  max(links.first_seen_at) as last_seen_at
from links
left join post_links on post_links.link_id = links.id
left join posts on posts.id = post_links.post_id
where links.final_domain is not null
group by links.final_domain
order by links desc
""",
    "links_rotten": f"""
select id, url, final_url, final_domain, rot, rot_evidence, rot_since, title, archived_url, last_checked_at
from links
where rot in ('{Rot.SOFT_404}', '{Rot.PARKED}', '{Rot.FRONT_PAGE}')
order by rot_since desc
""",
    "gone_but_captured": f"""
select id, url, status, rot, rot_evidence, last_ok_at, final_url, archived_url, archived_at, capture_count
from links
where rot in ('{Rot.DEAD}', '{Rot.SOFT_404}', '{Rot.PARKED}', '{Rot.FRONT_PAGE}') and archived_url is not null
order by rot_since desc
""",
    "content_changed": f"""
select links.id, links.url, links.final_url, links.rot, links.rot_evidence, links.rot_since,
  first.title as first_title, links.title, first.checked_at as first_checked_at, links.archived_url
from links
left join checks as first on first.id = (
  select min(c.id) from checks c where c.link_id = links.id and c.status = '{LinkStatus.OK}'
)
where links.rot in ('{Rot.CONTENT_CHANGED}', '{Rot.DOMAIN_CHANGED}')
order by links.rot_since desc
""",
    "top_final_domains": """
select final_domain, count(*) as links, sum(is_shortener) as via_shortener
from links
where final_domain is not null
group by final_domain
order by links desc
""",
}
