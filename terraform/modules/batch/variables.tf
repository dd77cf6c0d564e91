variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "job_definitions_dir" {
  description = "The folder of job definition files (batch/job-definitions)."
  type        = string
}

variable "image" {
  description = "The pgbatch image, pinned by digest (REPOSITORY@sha256:...)."
  type        = string
}

variable "use_spot" {
  description = "Run on Fargate Spot (dev)."
  type        = bool
}

variable "max_vcpus" {
  description = "The compute environment's most vCPUs at once."
  type        = number
}

variable "subnet_ids" {
  description = "The private subnets the tasks run in."
  type        = list(string)
}

variable "security_group_id" {
  description = "The Batch tasks' security group."
  type        = string
}

variable "kms_key_arn" {
  description = "The key of the logs and the landing bucket."
  type        = string
}

variable "landing_bucket_arn" {
  description = "The landing bucket the jobs read."
  type        = string
}

variable "database_secret_arn" {
  description = "The RDS-managed secret with the database user and password."
  type        = string
}

variable "database_host" {
  description = "The writer endpoint."
  type        = string
}

variable "database_name" {
  description = "The database the jobs load."
  type        = string
}

variable "database_root_cert" {
  description = "The CA bundle in the image that verifies the database's certificate."
  type        = string
}
