# AWS Batch on Fargate: a compute environment (Fargate Spot where allowed), a queue, and
# the job definitions of batch/job-definitions registered as they are written (command,
# resources, timeout, retries) with this environment's image, roles, logs and database.
# Each job has its own job role that reads only its own landing prefix.

data "aws_region" "current" {}

locals {
  # The files are the source of truth: one job definition per file.
  definitions = {
    for file in fileset(var.job_definitions_dir, "*.json") :
    trimsuffix(file, ".json") => jsondecode(file("${var.job_definitions_dir}/${file}"))
  }
  # The database: the RDS-managed secret's user and password; the rest as settings.
  database_secrets = [
    { name = "PGUSER", valueFrom = "${var.database_secret_arn}:username::" },
    { name = "PGPASSWORD", valueFrom = "${var.database_secret_arn}:password::" },
  ]
  database_environment = [
    { name = "PGHOST", value = var.database_host },
    { name = "PGPORT", value = "5432" },
    { name = "PGDATABASE", value = var.database_name },
    { name = "PGSSLMODE", value = "verify-full" },
    { name = "PGSSLROOTCERT", value = var.database_root_cert },
    { name = "PGBATCH_METRICS", value = "emf" },
  ]
}

resource "aws_batch_compute_environment" "this" {
  compute_environment_name_prefix = "pgbatch-${var.environment}-"
  type                            = "MANAGED"
  compute_resources {
    type               = var.use_spot ? "FARGATE_SPOT" : "FARGATE"
    max_vcpus          = var.max_vcpus
    subnets            = var.subnet_ids
    security_group_ids = [var.security_group_id]
  }
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_batch_job_queue" "this" {
  name     = "pgbatch-${var.environment}"
  state    = "ENABLED"
  priority = 1
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.this.arn
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/aws/batch/pgbatch-${var.environment}"
  retention_in_days = 365
  kms_key_id        = var.kms_key_arn
}

resource "aws_batch_job_definition" "job" {
  for_each              = local.definitions
  name                  = "${each.value.jobDefinitionName}-${var.environment}"
  type                  = "container"
  platform_capabilities = each.value.platformCapabilities
  propagate_tags        = true
  tags                  = each.value.tags
  parameters            = lookup(each.value, "parameters", null)
  timeout {
    attempt_duration_seconds = each.value.timeout.attemptDurationSeconds
  }
  retry_strategy {
    attempts = each.value.retryStrategy.attempts
    dynamic "evaluate_on_exit" {
      for_each = each.value.retryStrategy.evaluateOnExit
      content {
        action           = lower(evaluate_on_exit.value.action)
        on_exit_code     = lookup(evaluate_on_exit.value, "onExitCode", null)
        on_reason        = lookup(evaluate_on_exit.value, "onReason", null)
        on_status_reason = lookup(evaluate_on_exit.value, "onStatusReason", null)
      }
    }
  }
  container_properties = jsonencode(merge(each.value.containerProperties, {
    image            = var.image
    jobRoleArn       = aws_iam_role.job[each.key].arn
    executionRoleArn = aws_iam_role.execution.arn
    secrets          = local.database_secrets
    environment = concat(
      [for e in each.value.containerProperties.environment : e if !startswith(e.name, "PG") || startswith(e.name, "PGBATCH_")],
      local.database_environment,
    )
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.jobs.name
        awslogs-region        = data.aws_region.current.name
        awslogs-stream-prefix = each.key
      }
    }
  }))
}

# What ECS needs to start a task: pull the image, write its logs, read the database secret.
resource "aws_iam_role" "execution" {
  name = "pgbatch-${var.environment}-batch-execution"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "execution" {
  role       = aws_iam_role.execution.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
}

resource "aws_iam_role_policy" "execution_secret" {
  role = aws_iam_role.execution.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "secretsmanager:GetSecretValue"
      Resource = var.database_secret_arn
    }]
  })
}

# Each job reads its own landing prefix (JOB/), and decrypts with the landing key.
resource "aws_iam_role" "job" {
  for_each = local.definitions
  name     = "pgbatch-${var.environment}-${replace(each.key, "_", "-")}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ecs-tasks.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "job" {
  for_each = local.definitions
  role     = aws_iam_role.job[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Effect   = "Allow"
        Action   = "s3:GetObject"
        Resource = "${var.landing_bucket_arn}/${each.key}/*"
      },
      {
        Effect    = "Allow"
        Action    = "s3:ListBucket"
        Resource  = var.landing_bucket_arn
        Condition = { StringLike = { "s3:prefix" = ["${each.key}/*"] } }
      },
      {
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = var.kms_key_arn
      },
    ]
  })
}
