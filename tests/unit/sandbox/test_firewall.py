"""The environment network's nftables rules: where the API's DNAT goes, and that it is the
one way in from the bridge."""

from __future__ import annotations

import ipaddress

import pytest

from shoal.sandbox import firewall

V4 = ipaddress.IPv4Address


@pytest.mark.parametrize(("api", "target"), [
    (("127.0.0.1", 9000), (V4("127.0.0.1"), 9000)),
    (("0.0.0.0", 9000), (V4("127.0.0.1"), 9000)),  # every address: loopback is one of them
    (("", 9000), (V4("127.0.0.1"), 9000)),
    (("10.1.2.3", 443), (V4("10.1.2.3"), 443)),
    (("::1", 9000), None),  # no IPv4 DNAT reaches an IPv6 listener
    (None, None),
])  # fmt: skip
def test_api_target(api: tuple[str, int] | None, target: object) -> None:
    assert firewall.api_target(api) == target


def test_without_the_api_the_bridge_reaches_nothing_of_the_host() -> None:
    rules = firewall.ruleset(3, "shoal-3", ipaddress.IPv4Network("100.64.48.0/20"), None)
    assert "dnat" not in rules and "prerouting" not in rules
    assert 'iifname "shoal-3" reject with icmpx type admin-prohibited' in rules


def test_the_api_is_one_dnat_and_the_one_accept_before_the_reject() -> None:
    api = (V4("100.64.48.1"), V4("127.0.0.1"), 9000)
    rules = firewall.ruleset(3, "shoal-3", ipaddress.IPv4Network("100.64.48.0/20"), api)
    dnat = 'iifname "shoal-3" ip daddr 100.64.48.1 tcp dport 9000 dnat ip to 127.0.0.1:9000'
    accept = 'iifname "shoal-3" ct status dnat ip daddr 127.0.0.1 tcp dport 9000 accept'
    assert rules.count("dnat ip to") == 1 and dnat in rules
    input_chain = rules[rules.index("chain input") : rules.index("chain prerouting")]
    assert input_chain.index(accept) < input_chain.index("reject")
    assert input_chain.count("accept;") == 1  # the policy line; the rules: established + API
