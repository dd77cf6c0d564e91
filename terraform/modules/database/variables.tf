variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "engine_major_version" {
  description = "Aurora PostgreSQL's major version (the parameter group family)."
  type        = string
}

variable "engine_version" {
  description = "Aurora PostgreSQL's version."
  type        = string
}

variable "database_name" {
  description = "The database pgbatch loads and serves."
  type        = string
}

variable "instance_class" {
  description = "db.serverless (Serverless v2) or an instance class."
  type        = string
}

variable "serverless_min_acu" {
  description = "Serverless v2's least capacity."
  type        = number
}

variable "serverless_max_acu" {
  description = "Serverless v2's most capacity."
  type        = number
}

variable "reader_count" {
  description = "Readers beside the writer (in other AZs)."
  type        = number
}

variable "availability_zones" {
  description = "The AZs the instances spread over, the writer in the first."
  type        = list(string)
}

variable "backup_retention_days" {
  description = "Days automated backups are kept."
  type        = number
}

variable "deletion_protection" {
  description = "Refuse to delete the cluster (prod), and keep a final snapshot."
  type        = bool
}

variable "subnet_ids" {
  description = "The private subnets."
  type        = list(string)
}

variable "security_group_id" {
  description = "The database's security group."
  type        = string
}

variable "kms_key_arn" {
  description = "The key of the storage, the secret and Performance Insights."
  type        = string
}
