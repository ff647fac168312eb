"""Known redirector wrappers are unwrapped from the URL; anything else is left alone."""

from __future__ import annotations

import pytest

from archiver.resolve.wrappers import unwrap


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("https://www.google.com/url?q=https://example.com/a%3Fb%3D1&sa=D", "https://example.com/a?b=1"),
        ("https://www.google.co.uk/url?sa=t&url=https%3A%2F%2Fexample.org%2Fx", "https://example.org/x"),
        ("https://google.com.br/url?q=http://example.com/", "http://example.com/"),
        (
            "https://l.facebook.com/l.php?u=https%3A%2F%2Fnews.example%2Fs%3Fid%3D3&h=AT0",
            "https://news.example/s?id=3",
        ),
        ("https://lm.facebook.com/l.php?u=https%3A%2F%2Fexample.com%2F", "https://example.com/"),
        ("https://l.instagram.com/?u=https%3A%2F%2Fexample.com%2Fbio&e=AT", "https://example.com/bio"),
        (
            "https://www.youtube.com/redirect?event=video_description&q=https%3A%2F%2Fexample.com",
            "https://example.com/",
        ),
        ("https://duckduckgo.com/l/?uddg=https%3A%2F%2Fexample.com%2F&rut=1", "https://example.com/"),
        ("https://vk.com/away.php?to=https%3A%2F%2Fexample.com%2Fx", "https://example.com/x"),
        ("https://t.umblr.com/redirect?z=https%3A%2F%2Fexample.com%2F&t=1", "https://example.com/"),
        (
            "https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fexample.com%2F&data=x",
            "https://example.com/",
        ),
        ("https://example-com.cdn.ampproject.org/c/s/example.com/amp/story", "https://example.com/amp/story"),
        ("https://example-com.cdn.ampproject.org/c/example.com/page?x=1", "http://example.com/page?x=1"),
        ("https://www.google.com/amp/s/www.bbc.co.uk/news/amp/123", "https://www.bbc.co.uk/news/amp/123"),
        # The target is normalised like any stored URL.
        ("https://www.google.com/url?q=HTTPS://EXAMPLE.COM:443/Path", "https://example.com/Path"),
    ],
)
def test_known_wrappers_are_unwrapped(url, target):
    assert unwrap(url) == target


@pytest.mark.parametrize(
    "url",
    [
        # A parameter holding a URL is not a redirect on other sites or paths.
        "https://example.com/login?next=https://example.com/account",
        "https://www.facebook.com/sharer/sharer.php?u=https://example.com",
        "https://twitter.com/intent/tweet?url=https://example.com",
        "https://www.google.com/search?q=https://example.com",
        "https://google.evil.example/url?q=https://example.com",
        "https://notgoogle.com/url?q=https://example.com",
        # The target must be an absolute http(s) URL.
        "https://www.google.com/url?q=/relative",
        "https://www.google.com/url?q=javascript:alert(1)",
        "https://www.google.com/url?q=file:///etc/passwd",
        "https://www.google.com/url?q=",
        "https://www.google.com/url?sa=t",
        "https://l.facebook.com/l.php?u=https://exa%20mple.com/",
        "https://example-com.cdn.ampproject.org/c/s/",
        "https://example.com/",
        "not a url",
        "http://[::1",
    ],
)
def test_everything_else_is_left_alone(url):
    assert unwrap(url) is None
