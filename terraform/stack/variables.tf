# Every variable is set by each environment's terraform.tfvars (envs/*/): none has a default.

variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "region" {
  description = "The AWS region."
  type        = string
}

variable "image" {
  description = "The pgbatch image pinned by digest (REPOSITORY@sha256:...), set by the deploy workflow."
  type        = string
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
}

variable "availability_zones" {
  description = "At least two AZs."
  type        = list(string)
}

variable "landing_bucket_prefix" {
  description = "The landing bucket's name before -ENVIRONMENT."
  type        = string
}

variable "processed_retention_days" {
  description = "Days processed files are kept."
  type        = number
}

variable "access_log_bucket" {
  description = "The existing bucket for S3 and ALB access logs."
  type        = string
}

variable "landing_jobs" {
  description = "Jobs submitted when their manifest lands."
  type        = list(string)
}

variable "schedules" {
  description = "Jobs on a clock: name to a Scheduler expression."
  type        = map(string)
}

variable "database_engine_major_version" {
  description = "Aurora PostgreSQL's major version."
  type        = string
}

variable "database_engine_version" {
  description = "Aurora PostgreSQL's version."
  type        = string
}

variable "database_instance_class" {
  description = "db.serverless or an instance class."
  type        = string
}

variable "database_serverless_min_acu" {
  description = "Serverless v2's least capacity."
  type        = number
}

variable "database_serverless_max_acu" {
  description = "Serverless v2's most capacity."
  type        = number
}

variable "database_reader_count" {
  description = "Readers beside the writer."
  type        = number
}

variable "database_backup_retention_days" {
  description = "Days backups are kept."
  type        = number
}

variable "database_max_connections_alarm" {
  description = "Connections that raise the alarm."
  type        = number
}

variable "database_root_cert" {
  description = "The CA bundle in the image that verifies Aurora's certificate."
  type        = string
}

variable "deletion_protection" {
  description = "Protect the database and the load balancer from deletion."
  type        = bool
}

variable "batch_use_spot" {
  description = "Batch on Fargate Spot."
  type        = bool
}

variable "batch_max_vcpus" {
  description = "Batch's most vCPUs at once."
  type        = number
}

variable "api_cpu" {
  description = "The API task's CPU units."
  type        = number
}

variable "api_memory" {
  description = "The API task's memory, MiB."
  type        = number
}

variable "api_pool_size" {
  description = "Database connections per API task."
  type        = number
}

variable "api_min_tasks" {
  description = "API tasks at least."
  type        = number
}

variable "api_max_tasks" {
  description = "API tasks at most."
  type        = number
}

variable "api_requests_per_target" {
  description = "Requests per task per minute the autoscaler aims at."
  type        = number
}

variable "api_certificate_arn" {
  description = "The ACM certificate of the API's HTTPS listener."
  type        = string
}

variable "api_client_cidr" {
  description = "Who may reach the API's load balancer."
  type        = string
}

variable "alarm_emails" {
  description = "Who the alarms are mailed to."
  type        = list(string)
}

variable "api_requests_per_client_per_5_minutes" {
  description = "Requests one client address may make in 5 minutes before WAF blocks it."
  type        = number
}
