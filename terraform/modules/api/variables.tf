variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "image" {
  description = "The pgbatch image, pinned by digest."
  type        = string
}

variable "cpu" {
  description = "The task's CPU units."
  type        = number
}

variable "memory" {
  description = "The task's memory, MiB."
  type        = number
}

variable "pool_size" {
  description = "Database connections per task (serve --pool-size)."
  type        = number
}

variable "min_tasks" {
  description = "Tasks at least."
  type        = number
}

variable "max_tasks" {
  description = "Tasks at most."
  type        = number
}

variable "requests_per_target" {
  description = "Requests per task per minute the autoscaler aims at."
  type        = number
}

variable "requests_per_client_per_5_minutes" {
  description = "Requests one client address may make in 5 minutes before WAF blocks it."
  type        = number
}

variable "certificate_arn" {
  description = "The ACM certificate of the HTTPS listener."
  type        = string
}

variable "client_cidr" {
  description = "Who may reach the load balancer."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer (prod)."
  type        = bool
}

variable "access_log_bucket" {
  description = "The bucket the load balancer's access logs go to."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "The tasks' subnets."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "The load balancer's subnets."
  type        = list(string)
}

variable "security_group_id" {
  description = "The API tasks' security group."
  type        = string
}

variable "kms_key_arn" {
  description = "The key of the logs."
  type        = string
}

variable "database_secret_arn" {
  description = "The RDS-managed secret with the database user and password."
  type        = string
}

variable "database_reader_host" {
  description = "Aurora's reader endpoint."
  type        = string
}

variable "database_name" {
  description = "The database the API reads."
  type        = string
}

variable "database_root_cert" {
  description = "The CA bundle in the image that verifies the database's certificate."
  type        = string
}
