"""EC2 networking: VPCs, subnets, security groups, NACLs, routes, gateways, endpoints, ENIs, flow logs."""
