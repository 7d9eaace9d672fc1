"""Handlers for VPCs, subnets, route tables, gateways, elastic IPs, NAT gateways, ENIs and regions."""

from __future__ import annotations

from typing import Any

from cove.aws.context import RequestContext
from cove.aws.provider import operation
from cove.services.ec2 import gateways, interfaces, regions, routes, subnets, vpcs
from cove.services.ec2.api.base import Ec2Operations

__all__ = ["TopologyOperations"]

Out = dict[str, Any]


class TopologyOperations(Ec2Operations):
    # Regions and account

    @operation("DescribeRegions")
    def describe_regions(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return {"Regions": regions.describe_regions(p)}

    @operation("DescribeAvailabilityZones")
    def describe_availability_zones(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return {"AvailabilityZones": regions.describe_availability_zones(ctx.region, p)}

    @operation("DescribeAccountAttributes")
    def describe_account_attributes(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            default = vpcs.find_default_vpc(s, ctx.account_id, ctx.region)
        return {
            "AccountAttributes": regions.account_attributes(
                default.id if default else None, p.get("AttributeNames")
            )
        }

    # VPCs

    @operation("CreateVpc")
    def create_vpc(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            vpc = vpcs.create_vpc(s, ctx.account_id, ctx.region, p)
            # Nothing has to be provisioned: the VPC is "available" already in this answer.
            return {"Vpc": vpcs.vpc_view(vpc)}

    @operation("CreateDefaultVpc")
    def create_default_vpc(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {"Vpc": vpcs.vpc_view(vpcs.create_default_vpc(s, ctx.account_id, ctx.region))}

    @operation("DescribeVpcs")
    def describe_vpcs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return vpcs.describe_vpcs(s, ctx.account_id, ctx.region, p)

    @operation("DeleteVpc")
    def delete_vpc(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            vpcs.delete_vpc(s, ctx.account_id, ctx.region, p["VpcId"])
        return {}

    @operation("DescribeVpcAttribute")
    def describe_vpc_attribute(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return vpcs.describe_vpc_attribute(s, ctx.account_id, ctx.region, p["VpcId"], p["Attribute"])

    @operation("ModifyVpcAttribute")
    def modify_vpc_attribute(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            vpcs.modify_vpc_attribute(s, ctx.account_id, ctx.region, p)
        return {}

    @operation("ModifyVpcTenancy")
    def modify_vpc_tenancy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            vpcs.modify_vpc_tenancy(s, ctx.account_id, ctx.region, p["VpcId"], p["InstanceTenancy"])
        return {"ReturnValue": True}

    @operation("AssociateVpcCidrBlock")
    def associate_vpc_cidr_block(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return vpcs.associate_cidr_block(s, ctx.account_id, ctx.region, p)

    @operation("DisassociateVpcCidrBlock")
    def disassociate_vpc_cidr_block(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return vpcs.disassociate_cidr_block(s, ctx.account_id, ctx.region, p["AssociationId"])

    # Subnets

    @operation("CreateSubnet")
    def create_subnet(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            view = subnets.subnet_view(subnets.create_subnet(s, ctx.account_id, ctx.region, p))
            # CreateSubnet answers with a tag set even when empty; DescribeSubnets leaves it out.
            view.setdefault("Tags", [])
            return {"Subnet": view}

    @operation("DescribeSubnets")
    def describe_subnets(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return subnets.describe_subnets(s, ctx.account_id, ctx.region, p)

    @operation("DeleteSubnet")
    def delete_subnet(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            subnets.delete_subnet(s, ctx.account_id, ctx.region, p["SubnetId"])
        return {}

    @operation("ModifySubnetAttribute")
    def modify_subnet_attribute(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            subnets.modify_subnet_attribute(s, ctx.account_id, ctx.region, p)
        return {}

    # Route tables

    @operation("CreateRouteTable")
    def create_route_table(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            table = routes.create_route_table(s, ctx.account_id, ctx.region, p)
            return {"RouteTable": routes.route_table_view(s, table)}

    @operation("DescribeRouteTables")
    def describe_route_tables(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return routes.describe_route_tables(s, ctx.account_id, ctx.region, p)

    @operation("DeleteRouteTable")
    def delete_route_table(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            routes.delete_route_table(s, ctx.account_id, ctx.region, p["RouteTableId"])
        return {}

    @operation("AssociateRouteTable")
    def associate_route_table(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            assoc = routes.associate_route_table(s, ctx.account_id, ctx.region, p)
            return {"AssociationId": assoc.id, "AssociationState": {"State": "associated"}}

    @operation("DisassociateRouteTable")
    def disassociate_route_table(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            routes.disassociate_route_table(s, ctx.account_id, ctx.region, p["AssociationId"])
        return {}

    @operation("ReplaceRouteTableAssociation")
    def replace_route_table_association(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            assoc = routes.replace_route_table_association(
                s, ctx.account_id, ctx.region, p["AssociationId"], p["RouteTableId"]
            )
            return {"NewAssociationId": assoc.id, "AssociationState": {"State": "associated"}}

    @operation("CreateRoute")
    def create_route(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            routes.create_route(s, ctx.account_id, ctx.region, p)
        return {"Return": True}

    @operation("ReplaceRoute")
    def replace_route(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            routes.replace_route(s, ctx.account_id, ctx.region, p)
        return {}

    @operation("DeleteRoute")
    def delete_route(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            routes.delete_route(s, ctx.account_id, ctx.region, p)
        return {}

    # Internet gateways

    @operation("CreateInternetGateway")
    def create_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            igw = gateways.create_internet_gateway(s, ctx.account_id, ctx.region, p)
            return {"InternetGateway": gateways.internet_gateway_view(igw)}

    @operation("DescribeInternetGateways")
    def describe_internet_gateways(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return gateways.describe_internet_gateways(s, ctx.account_id, ctx.region, p)

    @operation("AttachInternetGateway")
    def attach_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.attach_internet_gateway(
                s, ctx.account_id, ctx.region, p["InternetGatewayId"], p["VpcId"]
            )
        return {}

    @operation("DetachInternetGateway")
    def detach_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.detach_internet_gateway(
                s, ctx.account_id, ctx.region, p["InternetGatewayId"], p["VpcId"]
            )
        return {}

    @operation("DeleteInternetGateway")
    def delete_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.delete_internet_gateway(s, ctx.account_id, ctx.region, p["InternetGatewayId"])
        return {}

    @operation("CreateEgressOnlyInternetGateway")
    def create_egress_only_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            igw = gateways.create_egress_only_internet_gateway(s, ctx.account_id, ctx.region, p)
            out: Out = {"EgressOnlyInternetGateway": gateways.egress_only_view(igw)}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    @operation("DescribeEgressOnlyInternetGateways")
    def describe_egress_only_internet_gateways(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return gateways.describe_egress_only_internet_gateways(s, ctx.account_id, ctx.region, p)

    @operation("DeleteEgressOnlyInternetGateway")
    def delete_egress_only_internet_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.delete_egress_only_internet_gateway(
                s, ctx.account_id, ctx.region, p["EgressOnlyInternetGatewayId"]
            )
        return {"ReturnCode": True}

    # Elastic IPs

    @operation("AllocateAddress")
    def allocate_address(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            eip = gateways.allocate_address(s, ctx.account_id, ctx.region, p)
            return {
                "AllocationId": eip.allocation_id,
                "PublicIp": eip.public_ip,
                "PublicIpv4Pool": "amazon",
                "NetworkBorderGroup": eip.region,
                "Domain": eip.domain,
            }

    @operation("DescribeAddresses")
    def describe_addresses(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return gateways.describe_addresses(s, ctx.account_id, ctx.region, p)

    @operation("ReleaseAddress")
    def release_address(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.release_address(s, ctx.account_id, ctx.region, p)
        return {}

    @operation("AssociateAddress")
    def associate_address(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return {"AssociationId": gateways.associate_address(s, ctx.account_id, ctx.region, p)}

    @operation("DisassociateAddress")
    def disassociate_address(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            gateways.disassociate_address(s, ctx.account_id, ctx.region, p)
        return {}

    # NAT gateways

    @operation("CreateNatGateway")
    def create_nat_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            nat = gateways.create_nat_gateway(s, ctx.account_id, ctx.region, p, ctx.now)
            out: Out = {"NatGateway": gateways.nat_gateway_view(nat, state="pending")}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    @operation("DescribeNatGateways")
    def describe_nat_gateways(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return gateways.describe_nat_gateways(s, ctx.account_id, ctx.region, p)

    @operation("DeleteNatGateway")
    def delete_nat_gateway(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            nat = gateways.delete_nat_gateway(s, ctx.account_id, ctx.region, p["NatGatewayId"], ctx.now)
            return {"NatGatewayId": nat.id}

    # Network interfaces

    @operation("CreateNetworkInterface")
    def create_network_interface(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            eni = interfaces.create_from_params(s, ctx.account_id, ctx.region, p)
            out: Out = {"NetworkInterface": interfaces.interface_view(s, eni)}
        if p.get("ClientToken"):
            out["ClientToken"] = p["ClientToken"]
        return out

    @operation("DescribeNetworkInterfaces")
    def describe_network_interfaces(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return interfaces.describe_network_interfaces(s, ctx.account_id, ctx.region, p)

    @operation("DeleteNetworkInterface")
    def delete_network_interface(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            interfaces.user_delete_network_interface(s, ctx.account_id, ctx.region, p["NetworkInterfaceId"])
        return {}

    @operation("ModifyNetworkInterfaceAttribute")
    def modify_network_interface_attribute(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            interfaces.modify_network_interface_attribute(s, ctx.account_id, ctx.region, p)
        return {}

    @operation("DescribeNetworkInterfaceAttribute")
    def describe_network_interface_attribute(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            return interfaces.describe_network_interface_attribute(
                s, ctx.account_id, ctx.region, p["NetworkInterfaceId"], p.get("Attribute", "")
            )

    @operation("AssignPrivateIpAddresses")
    def assign_private_ip_addresses(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            return interfaces.assign_private_ips(s, ctx.account_id, ctx.region, p)

    @operation("UnassignPrivateIpAddresses")
    def unassign_private_ip_addresses(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            interfaces.unassign_private_ips(s, ctx.account_id, ctx.region, p)
        return {}
