variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "bucket_prefix" {
  description = "The landing bucket's name, before -ENVIRONMENT."
  type        = string
}

variable "processed_retention_days" {
  description = "Days files under processed/ (and old versions) are kept."
  type        = number
}

variable "access_log_bucket" {
  description = "The bucket S3 server access logs go to."
  type        = string
}

variable "landing_jobs" {
  description = "Jobs whose manifests land under JOB/ and submit the job on arrival."
  type        = list(string)
}

variable "schedules" {
  description = "Jobs run on a clock: job name to an EventBridge Scheduler expression."
  type        = map(string)
}

variable "job_queue_arn" {
  description = "The Batch queue jobs are submitted to."
  type        = string
}

variable "job_definition_arns" {
  description = "Each job's Batch job definition."
  type        = map(string)
}
