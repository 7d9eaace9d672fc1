"""The kernel side of Cove's VPCs: namespaces, veths, routes, nftables, DNS and flow logs,
compiled from `cove.netmodel`'s rule set. Imports no wire, service, database or application code."""
