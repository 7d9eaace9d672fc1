"""`cove net probe` (a real attempt next to the model's verdict) and `cove gc` (leftovers only)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cove.cli.main import app
from cove.fabric import netns
from cove.fabric.names import Names, fabric_tag
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

runner = CliRunner()


@pytest.fixture
def state(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path
    result = runner.invoke(app, ["gc", "--all", "--state-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert netns.listing(Names(fabric_tag(tmp_path)).prefix) == []


def test_probe_prints_kernel_and_model_and_gc_removes_only_leftovers(state: Path) -> None:
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    try:
        ec2 = make_client(server, "ec2")
        vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
        web = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(
            GroupId=web,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "10.40.0.0/16"}],
                }
            ],
        )
        client = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
        target = ec2.create_network_interface(SubnetId=subnet, Groups=[web])["NetworkInterface"][
            "NetworkInterfaceId"
        ]
        assert server.cove.kernel is not None and server.cove.kernel.wait_applied(5.0)

        base = ["net", "probe", "--from", client, "--to", target, "--state-dir", str(state), "--timeout", "1"]
        allowed = runner.invoke(app, [*base, "--port", "443"])
        assert allowed.exit_code == 0, allowed.output
        assert (
            "open" in allowed.output
            and "kernel  ALLOW" in allowed.output
            and "model   ALLOW" in allowed.output
        )
        denied = runner.invoke(app, [*base, "--port", "22"])
        assert denied.exit_code == 1, denied.output
        assert (
            "timeout" in denied.output and "kernel  DENY" in denied.output and "model   DENY" in denied.output
        )

        names = Names(fabric_tag(state))
        stray = names.eni("eni-0000000000000dead")
        netns.create(stray)
        live = set(netns.listing(names.prefix)) - {stray}
        swept = runner.invoke(app, ["gc", "--state-dir", str(state)])
        assert swept.exit_code == 0, swept.output
        assert f"removed {stray}" in swept.output
        assert set(netns.listing(names.prefix)) == live
    finally:
        server.stop()
