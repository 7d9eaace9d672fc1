"""EC2 topology: VPCs, subnets, route tables, gateways, elastic IPs, NAT gateways, network interfaces

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import cove.db.base

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ec2_addresses",
        sa.Column("allocation_id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("public_ip", sa.String(length=15), nullable=False),
        sa.Column("domain", sa.String(length=16), nullable=False),
        sa.Column("association_id", sa.String(length=40), nullable=True),
        sa.Column("network_interface_id", sa.String(length=32), nullable=True),
        sa.Column("private_ip_address", sa.String(length=15), nullable=True),
        sa.Column("instance_id", sa.String(length=32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_ec2_addresses")),
        sa.UniqueConstraint("association_id", name=op.f("uq_ec2_addresses_association_id")),
        sa.UniqueConstraint("public_ip", name=op.f("uq_ec2_addresses_public_ip")),
    )
    with op.batch_alter_table("ec2_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_addresses_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ec2_addresses_network_interface_id"), ["network_interface_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ec2_addresses_region"), ["region"], unique=False)

    op.create_table(
        "ec2_internet_gateways",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_internet_gateways")),
    )
    with op.batch_alter_table("ec2_internet_gateways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_internet_gateways_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_internet_gateways_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_internet_gateways_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_nat_gateways",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("connectivity_type", sa.String(length=16), nullable=False),
        sa.Column("allocation_id", sa.String(length=32), nullable=True),
        sa.Column("network_interface_id", sa.String(length=32), nullable=True),
        sa.Column("private_ip_address", sa.String(length=15), nullable=True),
        sa.Column("public_ip", sa.String(length=15), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.Column("deleted", cove.db.base.UtcDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_nat_gateways")),
    )
    with op.batch_alter_table("ec2_nat_gateways", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_nat_gateways_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_nat_gateways_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_nat_gateways_subnet_id"), ["subnet_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_nat_gateways_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_region_states",
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("default_vpc_created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "region", name=op.f("pk_ec2_region_states")),
    )
    op.create_table(
        "ec2_vpcs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("cidr_block", sa.String(length=43), nullable=False),
        sa.Column("cidr_blocks", sa.JSON(), nullable=False),
        sa.Column("ipv6_cidr_blocks", sa.JSON(), nullable=False),
        sa.Column("instance_tenancy", sa.String(length=16), nullable=False),
        sa.Column("dhcp_options_id", sa.String(length=32), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("enable_dns_support", sa.Boolean(), nullable=False),
        sa.Column("enable_dns_hostnames", sa.Boolean(), nullable=False),
        sa.Column("enable_network_address_usage_metrics", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_vpcs")),
    )
    with op.batch_alter_table("ec2_vpcs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_vpcs_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_vpcs_region"), ["region"], unique=False)

    op.create_table(
        "ec2_route_tables",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vpc_id"], ["ec2_vpcs.id"], name=op.f("fk_ec2_route_tables_vpc_id_ec2_vpcs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_route_tables")),
    )
    with op.batch_alter_table("ec2_route_tables", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_route_tables_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_route_tables_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_route_tables_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_subnets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("cidr_block", sa.String(length=43), nullable=False),
        sa.Column("ipv6_cidr_blocks", sa.JSON(), nullable=False),
        sa.Column("availability_zone", sa.String(length=40), nullable=False),
        sa.Column("availability_zone_id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("default_for_az", sa.Boolean(), nullable=False),
        sa.Column("map_public_ip_on_launch", sa.Boolean(), nullable=False),
        sa.Column("assign_ipv6_address_on_creation", sa.Boolean(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["vpc_id"], ["ec2_vpcs.id"], name=op.f("fk_ec2_subnets_vpc_id_ec2_vpcs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_subnets")),
    )
    with op.batch_alter_table("ec2_subnets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_subnets_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_subnets_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_subnets_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_network_interfaces",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("account_id", sa.String(length=12), nullable=False),
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("availability_zone", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("interface_type", sa.String(length=32), nullable=False),
        sa.Column("requester_managed", sa.Boolean(), nullable=False),
        sa.Column("requester_id", sa.String(length=64), nullable=True),
        sa.Column("mac_address", sa.String(length=17), nullable=False),
        sa.Column("source_dest_check", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("attachment", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created", cove.db.base.UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subnet_id"], ["ec2_subnets.id"], name=op.f("fk_ec2_network_interfaces_subnet_id_ec2_subnets")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_network_interfaces")),
    )
    with op.batch_alter_table("ec2_network_interfaces", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ec2_network_interfaces_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ec2_network_interfaces_region"), ["region"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_network_interfaces_subnet_id"), ["subnet_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ec2_network_interfaces_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_route_table_associations",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("route_table_id", sa.String(length=32), nullable=False),
        sa.Column("vpc_id", sa.String(length=32), nullable=False),
        sa.Column("main", sa.Boolean(), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=True),
        sa.Column("gateway_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["route_table_id"],
            ["ec2_route_tables.id"],
            name=op.f("fk_ec2_route_table_associations_route_table_id_ec2_route_tables"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_route_table_associations")),
    )
    with op.batch_alter_table("ec2_route_table_associations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ec2_route_table_associations_gateway_id"), ["gateway_id"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_ec2_route_table_associations_route_table_id"), ["route_table_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ec2_route_table_associations_subnet_id"), ["subnet_id"], unique=True
        )
        batch_op.create_index(batch_op.f("ix_ec2_route_table_associations_vpc_id"), ["vpc_id"], unique=False)

    op.create_table(
        "ec2_routes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("route_table_id", sa.String(length=32), nullable=False),
        sa.Column("destination_cidr_block", sa.String(length=43), nullable=True),
        sa.Column("destination_ipv6_cidr_block", sa.String(length=64), nullable=True),
        sa.Column("destination_prefix_list_id", sa.String(length=32), nullable=True),
        sa.Column("target_type", sa.String(length=40), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["route_table_id"],
            ["ec2_route_tables.id"],
            name=op.f("fk_ec2_routes_route_table_id_ec2_route_tables"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_routes")),
    )
    with op.batch_alter_table("ec2_routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ec2_routes_route_table_id"), ["route_table_id"], unique=False)

    op.create_table(
        "ec2_private_ips",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("network_interface_id", sa.String(length=32), nullable=False),
        sa.Column("subnet_id", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=15), nullable=False),
        sa.Column("primary", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_interface_id"],
            ["ec2_network_interfaces.id"],
            name=op.f("fk_ec2_private_ips_network_interface_id_ec2_network_interfaces"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ec2_private_ips")),
        sa.UniqueConstraint("subnet_id", "address", name=op.f("uq_ec2_private_ips_subnet_id")),
    )
    with op.batch_alter_table("ec2_private_ips", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ec2_private_ips_network_interface_id"), ["network_interface_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_ec2_private_ips_subnet_id"), ["subnet_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ec2_private_ips", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_private_ips_subnet_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_private_ips_network_interface_id"))

    op.drop_table("ec2_private_ips")
    with op.batch_alter_table("ec2_routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_routes_route_table_id"))

    op.drop_table("ec2_routes")
    with op.batch_alter_table("ec2_route_table_associations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_route_table_associations_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_route_table_associations_subnet_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_route_table_associations_route_table_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_route_table_associations_gateway_id"))

    op.drop_table("ec2_route_table_associations")
    with op.batch_alter_table("ec2_network_interfaces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_network_interfaces_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_network_interfaces_subnet_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_network_interfaces_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_network_interfaces_account_id"))

    op.drop_table("ec2_network_interfaces")
    with op.batch_alter_table("ec2_subnets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_subnets_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_subnets_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_subnets_account_id"))

    op.drop_table("ec2_subnets")
    with op.batch_alter_table("ec2_route_tables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_route_tables_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_route_tables_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_route_tables_account_id"))

    op.drop_table("ec2_route_tables")
    with op.batch_alter_table("ec2_vpcs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_vpcs_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_vpcs_account_id"))

    op.drop_table("ec2_vpcs")
    op.drop_table("ec2_region_states")
    with op.batch_alter_table("ec2_nat_gateways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_nat_gateways_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_nat_gateways_subnet_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_nat_gateways_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_nat_gateways_account_id"))

    op.drop_table("ec2_nat_gateways")
    with op.batch_alter_table("ec2_internet_gateways", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_internet_gateways_vpc_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_internet_gateways_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_internet_gateways_account_id"))

    op.drop_table("ec2_internet_gateways")
    with op.batch_alter_table("ec2_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ec2_addresses_region"))
        batch_op.drop_index(batch_op.f("ix_ec2_addresses_network_interface_id"))
        batch_op.drop_index(batch_op.f("ix_ec2_addresses_account_id"))

    op.drop_table("ec2_addresses")
