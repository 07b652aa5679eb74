"""EC2's VPC objects as metadata: VPCs, subnets, security groups, network interfaces, zones."""
