output "job_queue_arn" {
  value = aws_batch_job_queue.this.arn
}

output "job_definition_arns" {
  value = { for job, definition in aws_batch_job_definition.job : job => definition.arn }
}
