"""The callback URL policy: only public https receivers, checked when the URL is given and again
before each attempt, and the attempt pinned to the address that was checked (DNS rebinding)."""

import ipaddress

import pytest

from image_pipeline.notify.callbacks import (
    CallbackPolicy,
    CallbackRefused,
    address_refusal,
    check_callback_url,
    destination,
    parse_callback_url,
)
from image_pipeline.notify.ports import NameNotResolved
from tests.notify_fakes import FakeResolver

AWS = CallbackPolicy()  # what every stack on AWS runs with
LOCAL = CallbackPolicy(allow_loopback=True)  # the local engine with AllowLoopbackCallbacks=true
PUBLIC = "93.184.215.14"


@pytest.fixture
def resolver() -> FakeResolver:
    return FakeResolver({"hooks.example.com": [PUBLIC], "dual.example.com": ["2606:4700::1111", PUBLIC]})


def _refused(url: str, policy: CallbackPolicy, resolver: FakeResolver) -> CallbackRefused:
    with pytest.raises(CallbackRefused) as refused:
        check_callback_url(url, policy, resolver)
    return refused.value


# ---------------------------------------------------------------- what passes
@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/webhooks/images",
        "https://hooks.example.com",
        "https://hooks.example.com:443/x?token=abc&b=1",
        "https://hooks.example.com:1024/x",  # the first unprivileged port
        "https://hooks.example.com:65535/x",
        "HTTPS://Hooks.Example.COM/x",
        "https://hooks.example.com./x",  # a fully qualified name's trailing dot
        f"https://{PUBLIC}/x",
        "https://[2606:4700::1111]/x",
        "https://dual.example.com/x",
    ],
)
def test_public_https_urls_are_accepted_on_aws(url: str, resolver: FakeResolver) -> None:
    assert check_callback_url(url, AWS, resolver) == url


def test_the_parsed_url_names_the_request_target_and_the_host_header() -> None:
    callback = parse_callback_url("https://Hooks.Example.com:8443/a/b?x=1", AWS)
    assert (callback.scheme, callback.host, callback.port) == ("https", "hooks.example.com", 8443)
    assert callback.target == "/a/b?x=1"
    assert callback.authority == "hooks.example.com:8443"
    assert parse_callback_url("https://hooks.example.com", AWS).target == "/"
    assert parse_callback_url("https://hooks.example.com:443/", AWS).authority == "hooks.example.com"
    assert parse_callback_url("https://[2606:4700::1111]/", AWS).authority == "[2606:4700::1111]"


# ---------------------------------------------------------------- scheme, loopback and the local switch
@pytest.mark.parametrize(
    "url", ["http://hooks.example.com/x", "ftp://hooks.example.com/x", "hooks.example.com/x", "/x"]
)
def test_only_https_on_aws(url: str, resolver: FakeResolver) -> None:
    assert _refused(url, AWS, resolver).reason == "bad_scheme"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "https://127.0.0.1:8443/hook", "http://[::1]:8080/hook"])
def test_loopback_receivers_only_where_the_stack_allows_them(url: str, resolver: FakeResolver) -> None:
    assert check_callback_url(url, LOCAL, resolver) == url
    assert _refused(url, AWS, resolver).reason in {"bad_scheme", "not_public"}


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # http stays loopback-only even locally
        "http://10.0.0.1:8080/x",
        "http://localhost:8080/x",  # a name, not a loopback literal
        "http://127.0.0.1:80/x",  # a privileged port
        "http://[::ffff:127.0.0.1]:8080/x",  # loopback only as itself
    ],
)
def test_the_local_switch_allows_loopback_literals_and_nothing_more(url: str, resolver: FakeResolver) -> None:
    _refused(url, LOCAL, resolver)


# ---------------------------------------------------------------- addresses, IPv4 and IPv6
@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address refused, not bound
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # the instance metadata endpoint
        ("169.254.170.2", "link-local"),  # the ECS/Lambda credentials endpoint
        ("100.64.0.1", "shared"),
        ("100.127.255.255", "shared"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.2.1", "private"),  # documentation (TEST-NET-1)
        ("198.18.0.1", "private"),  # benchmarking
        ("0.1.2.3", "private"),  # "this network"
        ("192.88.99.1", "special-purpose"),  # the old 6to4 relay anycast
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fd00:ec2::254", "private"),  # the IPv6 instance metadata endpoint
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("fec0::1", "reserved"),  # site-local (deprecated)
        ("2001:db8::1", "private"),  # documentation
        ("3fff::1", "special-purpose"),  # documentation since 2024
        ("100::1", "reserved"),  # discard-only
    ],
)
def test_every_non_public_address_is_refused_by_its_kind(address: str, kind: str, resolver: FakeResolver) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), AWS)
    assert refusal is not None
    assert refusal.reason == "not_public"
    assert kind in str(refusal)
    # the same address behind a name is refused too
    resolver.answer("sneaky.example.com", [address])
    assert _refused("https://sneaky.example.com/x", AWS, resolver).reason == "not_public"


@pytest.mark.parametrize(
    ("address", "inside"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1"),  # IPv4-mapped
        ("::ffff:169.254.169.254", "169.254.169.254"),
        ("::ffff:10.0.0.1", "10.0.0.1"),
        ("::10.0.0.1", "10.0.0.1"),  # IPv4-compatible (deprecated)
        ("64:ff9b::a00:1", "10.0.0.1"),  # NAT64
        ("64:ff9b::a9fe:a9fe", "169.254.169.254"),
        ("2002:a00:1::1", "10.0.0.1"),  # 6to4
        ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),  # Teredo (client address obfuscated)
    ],
)
def test_an_ipv6_address_carrying_a_private_ipv4_one_is_refused_naming_it(address: str, inside: str) -> None:
    refusal = address_refusal(ipaddress.ip_address(address), LOCAL)  # not even where loopback is allowed
    assert refusal is not None
    assert inside in str(refusal)


@pytest.mark.parametrize("address", ["::ffff:93.184.215.14", "64:ff9b::5db8:d70e"])
def test_an_ipv6_address_carrying_a_public_ipv4_one_is_judged_by_it(address: str) -> None:
    assert address_refusal(ipaddress.ip_address(address), AWS) is None


@pytest.mark.parametrize("public", [PUBLIC, "8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450:4001::200e"])
def test_public_unicast_addresses_pass(public: str) -> None:
    assert address_refusal(ipaddress.ip_address(public), AWS) is None


def test_one_private_address_among_public_ones_refuses_the_host(resolver: FakeResolver) -> None:
    resolver.answer("mixed.example.com", [PUBLIC, "10.0.0.7"])
    refused = _refused("https://mixed.example.com/x", AWS, resolver)
    assert "10.0.0.7" in str(refused)


# ---------------------------------------------------------------- host forms
@pytest.mark.parametrize(
    "host",
    [
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f000001",
        "0x7f.0.0.1",
        "0177.0.0.1",  # octal
        "127.1",  # short form
        "127.0.0.01",
        "017700000001",
        "1.2.3.4.5",
        "256.0.0.1",
    ],
)
def test_numeric_hosts_in_non_standard_forms_are_refused(host: str, resolver: FakeResolver) -> None:
    refused = _refused(f"https://{host}/x", AWS, resolver)
    assert refused.reason == "bad_host"
    assert resolver.lookups == []  # never handed to a resolver that might read it as an address


@pytest.mark.parametrize(
    "url",
    [
        "https://localhost/x",  # one label: resolved through search domains, never a public name
        "https://metadata/x",
        "https://hooks_1.example.com/x",
        "https://-hooks.example.com/x",
        "https://hooks-.example.com/x",
        f"https://{'a' * 64}.example.com/x",
        "https://[fe80::1%25eth0]/x",  # a zone
        "https://[not-an-address]/x",
        "https:///x",
    ],
)
def test_hosts_that_are_not_fully_qualified_names_or_ip_literals_are_refused(url: str, resolver: FakeResolver) -> None:
    assert _refused(url, AWS, resolver).reason == "bad_host"


# ---------------------------------------------------------------- the rest of the URL
@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://user:pass@hooks.example.com/x", "userinfo"),
        ("https://user@hooks.example.com/x", "userinfo"),
        ("https://hooks.example.com@10.0.0.1/x", "userinfo"),  # what a parser reads as the host differs
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com/x#", "fragment"),
        ("https://hooks.example.com/a b", "bad_characters"),
        ("https://hooks.example.com/\x00", "bad_characters"),
        ("https://hooks.example.com\\@10.0.0.1/", "bad_characters"),
        ("https://hooks.exämple.com/x", "bad_characters"),  # IDNs in their xn-- form
        ("https://hooks.example.com:22/x", "bad_port"),
        ("https://hooks.example.com:80/x", "bad_port"),
        ("https://hooks.example.com:1023/x", "bad_port"),  # just below the first unprivileged port
        ("https://hooks.example.com:0/x", "bad_port"),
        ("https://hooks.example.com:65536/x", "bad_port"),
        ("https://hooks.example.com:https/x", "bad_port"),
    ],
)
def test_urls_that_hide_or_misdirect_are_refused(url: str, reason: str, resolver: FakeResolver) -> None:
    assert _refused(url, AWS, resolver).reason == reason


@pytest.mark.parametrize(("length", "accepted"), [(2047, True), (2048, True), (2049, False)])
def test_a_callback_url_has_at_most_2048_characters(length: int, accepted: bool, resolver: FakeResolver) -> None:
    prefix = "https://hooks.example.com/"
    url = prefix + "a" * (length - len(prefix))
    if accepted:
        assert check_callback_url(url, AWS, resolver) == url
    else:
        assert _refused(url, AWS, resolver).reason == "too_long"


def test_a_host_that_does_not_resolve_is_refused_when_given(resolver: FakeResolver) -> None:
    refused = _refused("https://nowhere.example.com/x", AWS, resolver)
    assert refused.reason == "unresolvable"
    assert "nowhere.example.com" in str(refused)


# ---------------------------------------------------------------- at send time
def test_the_attempt_connects_to_the_address_that_was_checked(resolver: FakeResolver) -> None:
    callback = parse_callback_url("https://dual.example.com/x", AWS)
    target = destination(callback, AWS, resolver)
    assert target.address == ipaddress.ip_address(PUBLIC)  # IPv4 first: Lambda's egress
    assert target.callback == callback
    assert resolver.lookups == ["dual.example.com"]  # one lookup: nothing to rebind in between


def test_a_name_rebound_to_a_private_address_after_it_was_accepted_is_refused_at_send_time(
    resolver: FakeResolver,
) -> None:
    # Given a name that answered a public address when the URL was given, then the metadata endpoint
    resolver.answer("rebind.example.com", [PUBLIC], ["169.254.169.254"])
    url = "https://rebind.example.com/x"
    assert check_callback_url(url, AWS, resolver) == url
    # When the sender checks it again before the attempt
    with pytest.raises(CallbackRefused) as refused:
        destination(parse_callback_url(url, AWS), AWS, resolver)
    # Then it is refused, naming the address
    assert "169.254.169.254" in str(refused.value)


def test_a_literal_address_is_never_looked_up(resolver: FakeResolver) -> None:
    target = destination(parse_callback_url(f"https://{PUBLIC}/x", AWS), AWS, resolver)
    assert str(target.address) == PUBLIC
    assert resolver.lookups == []


def test_a_name_that_stopped_resolving_is_not_a_refusal(resolver: FakeResolver) -> None:
    # DNS may answer again later: the sender retries, it does not give up on the receiver
    with pytest.raises(NameNotResolved):
        destination(parse_callback_url("https://gone.example.com/x", AWS), AWS, resolver)
