variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "kms_key_arn" {
  description = "The key of the topic."
  type        = string
}

variable "alarm_emails" {
  description = "Who the alarms are mailed to."
  type        = list(string)
}

variable "job_queue_arn" {
  description = "The Batch queue whose failed jobs alarm."
  type        = string
}

variable "load_balancer_arn_suffix" {
  description = "The API's load balancer (its CloudWatch dimension)."
  type        = string
}

variable "database_cluster_id" {
  description = "The Aurora cluster."
  type        = string
}

variable "max_connections_alarm" {
  description = "Database connections that raise the alarm."
  type        = number
}
