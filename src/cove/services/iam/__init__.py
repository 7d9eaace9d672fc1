"""IAM: users, access keys, roles, policies, identity-policy enforcement."""
