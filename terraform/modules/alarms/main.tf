# Alarms to one SNS topic: a Batch job that FAILED (an EventBridge rule on Batch's job
# state changes), the API's 5xx rate and p99 latency (ALB metrics), the database's CPU,
# connections, freeable memory and replica lag; and a CloudWatch dashboard of the same
# with the loads' own figures (pgbatch --metrics emf).

data "aws_region" "current" {}

resource "aws_sns_topic" "alarms" {
  name              = "pgbatch-${var.environment}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_policy" "alarms" {
  arn = aws_sns_topic.alarms.arn
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = ["events.amazonaws.com", "cloudwatch.amazonaws.com"] }
      Action    = "sns:Publish"
      Resource  = aws_sns_topic.alarms.arn
    }]
  })
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_event_rule" "job_failed" {
  name        = "pgbatch-${var.environment}-job-failed"
  description = "A pgbatch Batch job ended FAILED (after its retries of 69 and 75)"
  event_pattern = jsonencode({
    source      = ["aws.batch"]
    detail-type = ["Batch Job State Change"]
    detail = {
      status   = ["FAILED"]
      jobQueue = [var.job_queue_arn]
    }
  })
}

resource "aws_cloudwatch_event_target" "job_failed" {
  rule = aws_cloudwatch_event_rule.job_failed.name
  arn  = aws_sns_topic.alarms.arn
  input_transformer {
    input_paths = {
      job    = "$.detail.jobName"
      reason = "$.detail.statusReason"
      id     = "$.detail.jobId"
    }
    input_template = "\"pgbatch job <job> (<id>) failed: <reason>\""
  }
}

locals {
  alb = { LoadBalancer = var.load_balancer_arn_suffix }
  db  = { DBClusterIdentifier = var.database_cluster_id }
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "pgbatch-${var.environment}-api-5xx"
  alarm_description   = "More than 1% of the API's answers are 5xx for 5 minutes"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 1
  evaluation_periods  = 5
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
  metric_query {
    id          = "ratio"
    expression  = "100 * errors / MAX([requests, 1])"
    label       = "5xx %"
    return_data = true
  }
  metric_query {
    id = "errors"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb
      period      = 60
      stat        = "Sum"
    }
  }
  metric_query {
    id = "requests"
    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "api_p99" {
  alarm_name          = "pgbatch-${var.environment}-api-p99"
  alarm_description   = "The API's p99 response time is over 25 ms for 10 minutes"
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 10
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.025
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "database" {
  for_each = {
    cpu         = { metric = "CPUUtilization", operator = "GreaterThanThreshold", threshold = 80, what = "CPU over 80%" }
    connections = { metric = "DatabaseConnections", operator = "GreaterThanThreshold", threshold = var.max_connections_alarm, what = "connections over ${var.max_connections_alarm}" }
    memory      = { metric = "FreeableMemory", operator = "LessThanThreshold", threshold = 268435456, what = "freeable memory under 256 MiB" }
    replica_lag = { metric = "AuroraReplicaLagMaximum", operator = "GreaterThanThreshold", threshold = 1000, what = "replica lag over 1 s" }
  }
  alarm_name          = "pgbatch-${var.environment}-db-${replace(each.key, "_", "-")}"
  alarm_description   = "Aurora: ${each.value.what} for 10 minutes"
  namespace           = "AWS/RDS"
  metric_name         = each.value.metric
  dimensions          = local.db
  statistic           = each.key == "memory" ? "Minimum" : "Maximum"
  period              = 60
  evaluation_periods  = 10
  comparison_operator = each.value.operator
  threshold           = each.value.threshold
  treat_missing_data  = "breaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = "pgbatch-${var.environment}"
  dashboard_body = jsonencode({
    widgets = [
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title   = "API requests and 5xx"
          region  = data.aws_region.current.name
          stat    = "Sum"
          period  = 60
          metrics = [["AWS/ApplicationELB", "RequestCount", "LoadBalancer", var.load_balancer_arn_suffix], [".", "HTTPCode_Target_5XX_Count", ".", "."]]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title   = "API response time p99"
          region  = data.aws_region.current.name
          stat    = "p99"
          period  = 60
          metrics = [["AWS/ApplicationELB", "TargetResponseTime", "LoadBalancer", var.load_balancer_arn_suffix]]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title   = "Aurora CPU, connections, replica lag"
          region  = data.aws_region.current.name
          stat    = "Maximum"
          period  = 60
          metrics = [["AWS/RDS", "CPUUtilization", "DBClusterIdentifier", var.database_cluster_id], [".", "DatabaseConnections", ".", "."], [".", "AuroraReplicaLagMaximum", ".", "."]]
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title   = "Loads: rows loaded and failed batches (pgbatch --metrics emf)"
          region  = data.aws_region.current.name
          stat    = "Sum"
          period  = 300
          metrics = [[{ expression = "SEARCH('{pgbatch,job} MetricName=\"RowsLoaded\"', 'Sum', 300)", id = "rows", label = "" }], [{ expression = "SEARCH('{pgbatch,job} MetricName=\"FailedBatches\"', 'Sum', 300)", id = "failed", label = "" }]]
        }
      },
    ]
  })
}
