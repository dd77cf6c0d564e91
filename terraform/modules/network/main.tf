# The network: a VPC with private subnets in at least two AZs and no NAT: the Fargate
# tasks reach S3 through a gateway endpoint and ECR, CloudWatch Logs, Secrets Manager and
# STS through interface endpoints. Public subnets hold only the API's load balancer.

data "aws_region" "current" {}

resource "aws_vpc" "this" {
  cidr_block           = var.cidr_block
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = "pgbatch-${var.environment}" }
}

# No rule at all: nothing uses the default security group.
resource "aws_default_security_group" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_flow_log" "this" {
  vpc_id               = aws_vpc.this.id
  traffic_type         = "ALL"
  log_destination_type = "cloud-watch-logs"
  log_destination      = aws_cloudwatch_log_group.flow.arn
  iam_role_arn         = aws_iam_role.flow.arn
}

resource "aws_cloudwatch_log_group" "flow" {
  name              = "/pgbatch/${var.environment}/vpc-flow"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "flow" {
  name = "pgbatch-${var.environment}-vpc-flow"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "vpc-flow-logs.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "flow" {
  role = aws_iam_role.flow.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
      Resource = "${aws_cloudwatch_log_group.flow.arn}:*"
    }]
  })
}

resource "aws_subnet" "private" {
  count             = length(var.availability_zones)
  vpc_id            = aws_vpc.this.id
  availability_zone = var.availability_zones[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 4, count.index)
  tags              = { Name = "pgbatch-${var.environment}-private-${var.availability_zones[count.index]}" }
}

resource "aws_subnet" "public" {
  count             = length(var.availability_zones)
  vpc_id            = aws_vpc.this.id
  availability_zone = var.availability_zones[count.index]
  cidr_block        = cidrsubnet(var.cidr_block, 8, 200 + count.index)
  tags              = { Name = "pgbatch-${var.environment}-public-${var.availability_zones[count.index]}" }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  count          = length(aws_subnet.public)
  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
}

resource "aws_route_table_association" "private" {
  count          = length(aws_subnet.private)
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id]
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts"])
  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${data.aws_region.current.name}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = aws_subnet.private[*].id
  security_group_ids  = [aws_security_group.endpoints.id]
}

# The tasks (Batch and the API) reach the endpoints over HTTPS.
resource "aws_security_group" "endpoints" {
  name        = "pgbatch-${var.environment}-endpoints"
  description = "VPC interface endpoints: HTTPS from the pgbatch tasks"
  vpc_id      = aws_vpc.this.id
}

resource "aws_vpc_security_group_ingress_rule" "endpoints" {
  for_each                     = { batch = aws_security_group.batch.id, api = aws_security_group.api.id }
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the ${each.key} tasks"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

resource "aws_security_group" "batch" {
  #checkov:skip=CKV2_AWS_5:attached in another module (this module's outputs): the Batch compute environment, the ECS service, the Aurora cluster
  name        = "pgbatch-${var.environment}-batch"
  description = "AWS Batch tasks: out to the database and the VPC endpoints only"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "api" {
  #checkov:skip=CKV2_AWS_5:attached in another module (this module's outputs): the Batch compute environment, the ECS service, the Aurora cluster
  name        = "pgbatch-${var.environment}-api"
  description = "API tasks: in from the load balancer, out to the database and endpoints"
  vpc_id      = aws_vpc.this.id
}

resource "aws_security_group" "database" {
  #checkov:skip=CKV2_AWS_5:attached in another module (this module's outputs): the Batch compute environment, the ECS service, the Aurora cluster
  name        = "pgbatch-${var.environment}-database"
  description = "Aurora PostgreSQL: only from the Batch tasks and the API tasks"
  vpc_id      = aws_vpc.this.id
}

# The database admits exactly the Batch and the API groups, on PostgreSQL's port.
resource "aws_vpc_security_group_ingress_rule" "database" {
  for_each                     = { batch = aws_security_group.batch.id, api = aws_security_group.api.id }
  security_group_id            = aws_security_group.database.id
  description                  = "PostgreSQL from the ${each.key} tasks"
  referenced_security_group_id = each.value
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "to_database" {
  for_each                     = { batch = aws_security_group.batch.id, api = aws_security_group.api.id }
  security_group_id            = each.value
  description                  = "PostgreSQL to the database"
  referenced_security_group_id = aws_security_group.database.id
  ip_protocol                  = "tcp"
  from_port                    = 5432
  to_port                      = 5432
}

resource "aws_vpc_security_group_egress_rule" "to_endpoints" {
  for_each                     = { batch = aws_security_group.batch.id, api = aws_security_group.api.id }
  security_group_id            = each.value
  description                  = "HTTPS to the VPC interface endpoints"
  referenced_security_group_id = aws_security_group.endpoints.id
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

# S3 through the gateway endpoint: its prefix list, not the internet.
resource "aws_vpc_security_group_egress_rule" "to_s3" {
  for_each          = { batch = aws_security_group.batch.id, api = aws_security_group.api.id }
  security_group_id = each.value
  description       = "HTTPS to S3 through the gateway endpoint"
  prefix_list_id    = aws_vpc_endpoint.s3.prefix_list_id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
