# Aurora PostgreSQL: a writer and readers in other AZs (instances or Serverless v2),
# storage encrypted, TLS required (rds.force_ssl), IAM authentication, backups, deletion
# protection where asked, Performance Insights, and the master password kept by RDS in
# Secrets Manager (never in Terraform's state).

resource "aws_db_subnet_group" "this" {
  name       = "pgbatch-${var.environment}"
  subnet_ids = var.subnet_ids
}

resource "aws_rds_cluster_parameter_group" "this" {
  name   = "pgbatch-${var.environment}"
  family = "aurora-postgresql${var.engine_major_version}"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_rds_cluster" "this" {
  #checkov:skip=CKV2_AWS_8:Aurora's own continuous backups (backup_retention_period, point-in-time restore) are this stack's backup; AWS Backup plans are the organisation's, outside it
  #checkov:skip=CKV2_AWS_27:slow statements are logged (log_min_duration_statement, 1 s); logging every statement of multi-million-row loads would flood the logs
  cluster_identifier                  = "pgbatch-${var.environment}"
  engine                              = "aurora-postgresql"
  engine_version                      = var.engine_version
  database_name                       = var.database_name
  master_username                     = "pgbatch_admin"
  manage_master_user_password         = true
  master_user_secret_kms_key_id       = var.kms_key_arn
  db_subnet_group_name                = aws_db_subnet_group.this.name
  db_cluster_parameter_group_name     = aws_rds_cluster_parameter_group.this.name
  vpc_security_group_ids              = [var.security_group_id]
  storage_encrypted                   = true
  kms_key_id                          = var.kms_key_arn
  iam_database_authentication_enabled = true
  backup_retention_period             = var.backup_retention_days
  preferred_backup_window             = "02:00-03:00"
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = !var.deletion_protection
  final_snapshot_identifier           = var.deletion_protection ? "pgbatch-${var.environment}-final" : null
  copy_tags_to_snapshot               = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  dynamic "serverlessv2_scaling_configuration" {
    for_each = var.instance_class == "db.serverless" ? [1] : []
    content {
      min_capacity = var.serverless_min_acu
      max_capacity = var.serverless_max_acu
    }
  }
}

# Instance 0 is the writer; the others are readers, spread over the AZs.
resource "aws_rds_cluster_instance" "this" {
  count                                 = 1 + var.reader_count
  identifier                            = "pgbatch-${var.environment}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.this.id
  engine                                = aws_rds_cluster.this.engine
  engine_version                        = aws_rds_cluster.this.engine_version
  instance_class                        = var.instance_class
  availability_zone                     = var.availability_zones[count.index % length(var.availability_zones)]
  db_subnet_group_name                  = aws_db_subnet_group.this.name
  auto_minor_version_upgrade            = true
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = var.kms_key_arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.monitoring.arn
}

resource "aws_iam_role" "monitoring" {
  name = "pgbatch-${var.environment}-rds-monitoring"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "monitoring.rds.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy_attachment" "monitoring" {
  role       = aws_iam_role.monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}
