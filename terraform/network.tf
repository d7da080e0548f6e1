# A VPC whose only compute (the Prefect host) sits in a private subnet without a public IP.
#
# - SSM (Session Manager shell and port forwarding, Run Command) reaches the host through interface VPC
#   endpoints for ssm, ssmmessages and ec2messages; S3 (lake, artifacts, the Amazon Linux package
#   repositories) through a gateway endpoint. None of this needs a NAT gateway.
# - `make install` downloads uv and the locked Python packages from PyPI: that needs internet egress, which the
#   optional NAT gateway (enable_nat_gateway, on by default) provides. Without NAT, point uv at a PyPI mirror
#   inside the VPC (e.g. CodeArtifact through another endpoint).
# - Nothing accepts inbound connections from outside the VPC: the host's security group has no ingress rule.

locals {
  azs = var.availability_zones
  # /20 VPC -> /23 subnets: private in the first quarter, public (NAT only) in the second.
  private_subnet_cidrs = [for i, az in local.azs : cidrsubnet(var.vpc_cidr, 3, i)]
  public_subnet_cidrs  = [for i, az in local.azs : cidrsubnet(var.vpc_cidr, 3, i + 4)]
  interface_endpoints  = toset(["ssm", "ssmmessages", "ec2messages"])
}

resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true # private DNS names of the interface endpoints

  tags = { Name = local.name }
}

# Lock down the default security group: nothing may use it by accident.
resource "aws_default_security_group" "default" {
  vpc_id = aws_vpc.main.id
}

resource "aws_subnet" "private" {
  count = length(local.azs)

  vpc_id                  = aws_vpc.main.id
  cidr_block              = local.private_subnet_cidrs[count.index]
  availability_zone       = local.azs[count.index]
  map_public_ip_on_launch = false

  tags = { Name = "${local.name}-private-${local.azs[count.index]}" }
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.main.id

  tags = { Name = "${local.name}-private" }
}

resource "aws_route_table_association" "private" {
  count = length(aws_subnet.private)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

# --- optional NAT (internet egress for package installs) ------------------------------------------------------

resource "aws_subnet" "public" {
  count = var.enable_nat_gateway ? 1 : 0

  vpc_id                  = aws_vpc.main.id
  cidr_block              = local.public_subnet_cidrs[0]
  availability_zone       = local.azs[0]
  map_public_ip_on_launch = false # only the NAT gateway lives here, with its own Elastic IP

  tags = { Name = "${local.name}-public-nat" }
}

resource "aws_internet_gateway" "main" {
  count = var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.main.id

  tags = { Name = local.name }
}

resource "aws_route_table" "public" {
  count = var.enable_nat_gateway ? 1 : 0

  vpc_id = aws_vpc.main.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.main[0].id
  }

  tags = { Name = "${local.name}-public" }
}

resource "aws_route_table_association" "public" {
  count = var.enable_nat_gateway ? 1 : 0

  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count = var.enable_nat_gateway ? 1 : 0

  domain = "vpc"

  tags = { Name = "${local.name}-nat" }

  depends_on = [aws_internet_gateway.main]
}

resource "aws_nat_gateway" "main" {
  count = var.enable_nat_gateway ? 1 : 0

  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id

  tags = { Name = local.name }
}

resource "aws_route" "private_nat" {
  count = var.enable_nat_gateway ? 1 : 0

  route_table_id         = aws_route_table.private.id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.main[0].id
}

# --- VPC endpoints --------------------------------------------------------------------------------------------

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.main.id
  service_name      = "com.amazonaws.${var.aws_region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]

  tags = { Name = "${local.name}-s3" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_endpoints

  vpc_id              = aws_vpc.main.id
  service_name        = "com.amazonaws.${var.aws_region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = { Name = "${local.name}-${each.key}" }
}

# --- security groups ------------------------------------------------------------------------------------------

resource "aws_security_group" "prefect" {
  name        = "${local.name}-prefect-host"
  description = "Prefect host: no inbound at all (access is SSM only); HTTPS out to VPC endpoints, S3 and (via NAT) PyPI"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-prefect-host" }
}

resource "aws_vpc_security_group_egress_rule" "prefect_https" {
  security_group_id = aws_security_group.prefect.id
  description       = "HTTPS to AWS APIs (VPC endpoints, S3) and package indexes"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_security_group" "endpoints" {
  name        = "${local.name}-vpc-endpoints"
  description = "Interface VPC endpoints (SSM): HTTPS from the Prefect host only"
  vpc_id      = aws_vpc.main.id

  tags = { Name = "${local.name}-vpc-endpoints" }
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_prefect" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the Prefect host"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.prefect.id
}

# --- flow logs ------------------------------------------------------------------------------------------------

resource "aws_flow_log" "vpc" {
  vpc_id               = aws_vpc.main.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow_logs.arn
  iam_role_arn         = aws_iam_role.flow_logs.arn
}

resource "aws_cloudwatch_log_group" "flow_logs" {
  name              = "/${var.project}/${var.environment}/vpc-flow-logs"
  retention_in_days = var.flow_log_retention_days
  kms_key_id        = aws_kms_key.main.arn
}
