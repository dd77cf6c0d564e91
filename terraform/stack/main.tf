# pgbatch on AWS, the same for every environment: envs/dev, envs/staging and envs/prod
# hold only their values (terraform.tfvars) and their state's place (backend.hcl):
#   terraform -chdir=terraform/stack init -reconfigure -backend-config=../envs/prod/backend.hcl
#   terraform -chdir=terraform/stack plan -var-file=../envs/prod/terraform.tfvars

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }
  # Partial configuration: each environment's backend.hcl says where its state is.
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = {
      app         = "pgbatch"
      environment = var.environment
    }
  }
}

locals {
  # The job definitions this repository ships: Terraform registers exactly these files.
  job_definitions_dir = "${path.root}/../../batch/job-definitions"
}

module "landing" {
  source                   = "../modules/landing"
  environment              = var.environment
  bucket_prefix            = var.landing_bucket_prefix
  processed_retention_days = var.processed_retention_days
  access_log_bucket        = var.access_log_bucket
  landing_jobs             = var.landing_jobs
  schedules                = var.schedules
  job_queue_arn            = module.batch.job_queue_arn
  job_definition_arns      = module.batch.job_definition_arns
}

module "network" {
  source             = "../modules/network"
  environment        = var.environment
  cidr_block         = var.vpc_cidr
  availability_zones = var.availability_zones
  kms_key_arn        = module.landing.kms_key_arn
}

module "database" {
  source                = "../modules/database"
  environment           = var.environment
  engine_major_version  = var.database_engine_major_version
  engine_version        = var.database_engine_version
  database_name         = "pgbatch"
  instance_class        = var.database_instance_class
  serverless_min_acu    = var.database_serverless_min_acu
  serverless_max_acu    = var.database_serverless_max_acu
  reader_count          = var.database_reader_count
  availability_zones    = var.availability_zones
  backup_retention_days = var.database_backup_retention_days
  deletion_protection   = var.deletion_protection
  subnet_ids            = module.network.private_subnet_ids
  security_group_id     = module.network.database_security_group_id
  kms_key_arn           = module.landing.kms_key_arn
}

module "batch" {
  source              = "../modules/batch"
  environment         = var.environment
  job_definitions_dir = local.job_definitions_dir
  image               = var.image
  use_spot            = var.batch_use_spot
  max_vcpus           = var.batch_max_vcpus
  subnet_ids          = module.network.private_subnet_ids
  security_group_id   = module.network.batch_security_group_id
  kms_key_arn         = module.landing.kms_key_arn
  landing_bucket_arn  = module.landing.bucket_arn
  database_secret_arn = module.database.secret_arn
  database_host       = module.database.writer_endpoint
  database_name       = module.database.database_name
  database_root_cert  = var.database_root_cert
}

module "api" {
  source              = "../modules/api"
  environment         = var.environment
  image               = var.image
  cpu                 = var.api_cpu
  memory              = var.api_memory
  pool_size           = var.api_pool_size
  min_tasks           = var.api_min_tasks
  max_tasks           = var.api_max_tasks
  requests_per_target = var.api_requests_per_target

  requests_per_client_per_5_minutes = var.api_requests_per_client_per_5_minutes
  certificate_arn                   = var.api_certificate_arn
  client_cidr                       = var.api_client_cidr
  deletion_protection               = var.deletion_protection
  access_log_bucket                 = var.access_log_bucket
  vpc_id                            = module.network.vpc_id
  private_subnet_ids                = module.network.private_subnet_ids
  public_subnet_ids                 = module.network.public_subnet_ids
  security_group_id                 = module.network.api_security_group_id
  kms_key_arn                       = module.landing.kms_key_arn
  database_secret_arn               = module.database.secret_arn
  database_reader_host              = module.database.reader_endpoint
  database_name                     = module.database.database_name
  database_root_cert                = var.database_root_cert
}

module "alarms" {
  source                   = "../modules/alarms"
  environment              = var.environment
  kms_key_arn              = module.landing.kms_key_arn
  alarm_emails             = var.alarm_emails
  job_queue_arn            = module.batch.job_queue_arn
  load_balancer_arn_suffix = module.api.load_balancer_arn_suffix
  database_cluster_id      = module.database.cluster_id
  max_connections_alarm    = var.database_max_connections_alarm
}

output "api_dns_name" {
  value = module.api.dns_name
}

output "landing_bucket" {
  value = module.landing.bucket
}
