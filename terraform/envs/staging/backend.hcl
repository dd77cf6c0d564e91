# terraform -chdir=terraform/stack init -reconfigure -backend-config=../envs/staging/backend.hcl
bucket         = "example-org-terraform-state"
key            = "pgbatch/staging.tfstate"
region         = "eu-west-1"
dynamodb_table = "example-org-terraform-locks"
encrypt        = true
