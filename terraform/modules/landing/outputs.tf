output "bucket" {
  value = aws_s3_bucket.landing.id
}

output "bucket_arn" {
  value = aws_s3_bucket.landing.arn
}

output "kms_key_arn" {
  value = aws_kms_key.this.arn
}
