# The landing zone: the bucket files arrive in (versioned, SSE-KMS, never public, processed
# files expiring), S3 events through EventBridge, a rule per dataset prefix that submits
# the dataset's Batch job with the manifest's key as its `source` parameter, and
# EventBridge Scheduler entries for the jobs that run on a clock.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}

# One key for the landing bucket, the logs and the alarm topic of the environment.
resource "aws_kms_key" "this" {
  description         = "pgbatch ${var.environment}: landing files, logs, alarms"
  enable_key_rotation = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Account"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "Services"
        Effect    = "Allow"
        Principal = { Service = ["logs.${data.aws_region.current.name}.amazonaws.com", "events.amazonaws.com", "scheduler.amazonaws.com", "sns.amazonaws.com", "cloudwatch.amazonaws.com"] }
        Action    = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_s3_bucket" "landing" {
  #checkov:skip=CKV_AWS_144:the landing files are inputs their senders can send again; the loaded data's durability is Aurora's backups, not a second copy of the inputs
  bucket = "${var.bucket_prefix}-${var.environment}"
}

resource "aws_s3_bucket_versioning" "landing" {
  bucket = aws_s3_bucket.landing.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "landing" {
  bucket                  = aws_s3_bucket.landing.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "landing" {
  bucket = aws_s3_bucket.landing.id
  rule {
    id     = "processed"
    status = "Enabled"
    filter {
      prefix = "processed/"
    }
    expiration {
      days = var.processed_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
  rule {
    id     = "uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
    noncurrent_version_expiration {
      noncurrent_days = var.processed_retention_days
    }
  }
}

resource "aws_s3_bucket_logging" "landing" {
  bucket        = aws_s3_bucket.landing.id
  target_bucket = var.access_log_bucket
  target_prefix = "s3/${aws_s3_bucket.landing.id}/"
}

resource "aws_s3_bucket_notification" "landing" {
  bucket      = aws_s3_bucket.landing.id
  eventbridge = true
}

# A manifest (JOB/*.list) landing under a dataset's prefix submits that dataset's job.
resource "aws_cloudwatch_event_rule" "arrival" {
  for_each    = toset(var.landing_jobs)
  name        = "pgbatch-${var.environment}-${replace(each.key, "_", "-")}-arrival"
  description = "A manifest under ${each.key}/ submits the ${each.key} Batch job"
  event_pattern = jsonencode({
    source      = ["aws.s3"]
    detail-type = ["Object Created"]
    detail = {
      bucket = { name = [aws_s3_bucket.landing.id] }
      object = { key = [{ wildcard = "${each.key}/*.list" }] }
    }
  })
}

resource "aws_cloudwatch_event_target" "arrival" {
  for_each = toset(var.landing_jobs)
  rule     = aws_cloudwatch_event_rule.arrival[each.key].name
  arn      = var.job_queue_arn
  role_arn = aws_iam_role.submit.arn
  batch_target {
    job_definition = var.job_definition_arns[each.key]
    job_name       = "pgbatch-${replace(each.key, "_", "-")}"
  }
  input_transformer {
    input_paths = {
      bucket = "$.detail.bucket.name"
      key    = "$.detail.object.key"
    }
    input_template = <<-TEMPLATE
      {"Parameters": {"source": "@s3://<bucket>/<key>"}}
    TEMPLATE
  }
  retry_policy {
    maximum_retry_attempts       = 10
    maximum_event_age_in_seconds = 3600
  }
  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

# Events EventBridge could not deliver, kept for two weeks.
resource "aws_sqs_queue" "dead_letters" {
  name                      = "pgbatch-${var.environment}-undelivered"
  message_retention_seconds = 1209600
  kms_master_key_id         = aws_kms_key.this.arn
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "events.amazonaws.com" }
      Action    = "sqs:SendMessage"
      Resource  = aws_sqs_queue.dead_letters.arn
    }]
  })
}

# The jobs on a clock (SQL jobs such as price_stats and playlist_tally).
resource "aws_scheduler_schedule" "job" {
  for_each                     = var.schedules
  name                         = "pgbatch-${var.environment}-${replace(each.key, "_", "-")}"
  schedule_expression          = each.value
  schedule_expression_timezone = "UTC"
  kms_key_arn                  = aws_kms_key.this.arn
  flexible_time_window {
    mode = "OFF"
  }
  target {
    arn      = "arn:aws:scheduler:::aws-sdk:batch:submitJob"
    role_arn = aws_iam_role.submit.arn
    input = jsonencode({
      JobName       = "pgbatch-${replace(each.key, "_", "-")}"
      JobQueue      = var.job_queue_arn
      JobDefinition = var.job_definition_arns[each.key]
    })
    retry_policy {
      maximum_retry_attempts       = 5
      maximum_event_age_in_seconds = 3600
    }
  }
}

# What EventBridge and the Scheduler submit with: these job definitions, this queue only.
resource "aws_iam_role" "submit" {
  name = "pgbatch-${var.environment}-submit"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = ["events.amazonaws.com", "scheduler.amazonaws.com"] }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "submit" {
  role = aws_iam_role.submit.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = "batch:SubmitJob"
      Resource = concat([var.job_queue_arn], [for job in distinct(concat(var.landing_jobs, keys(var.schedules))) : var.job_definition_arns[job]])
    }]
  })
}
