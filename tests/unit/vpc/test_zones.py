"""Zone names and ids as AWS spells them, and the default VPC's subnets."""

from __future__ import annotations

from shoal.vpc import zones


def test_zone_ids_follow_aws() -> None:
    assert [z.id for z in zones.zones("us-east-1")][:2] == ["use1-az1", "use1-az2"]
    for region, code in (("ap-southeast-2", "apse2"), ("eu-central-1", "euc1"),
                         ("us-gov-west-1", "usgw1"), ("ap-northeast-1", "apne1"),
                         ("ca-central-1", "cac1"), ("me-south-1", "mes1")):  # fmt: skip
        assert zones.region_code(region) == code
    assert [z.name for z in zones.zones("us-west-1")] == ["us-west-1a", "us-west-1b"]
    assert len(zones.zones("eu-west-3")) == zones.DEFAULT_ZONE_COUNT
    assert zones.zone("us-east-1", "use1-az3") == zones.zone("us-east-1", "us-east-1c")
    assert zones.zone("us-east-1", "us-east-1z") is None


def test_default_subnets_are_the_first_20s() -> None:
    assert zones.default_subnet_cidrs(3) == ["172.31.0.0/20", "172.31.16.0/20", "172.31.32.0/20"]
