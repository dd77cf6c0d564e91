variable "environment" {
  description = "dev, staging or prod."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range."
  type        = string
}

variable "availability_zones" {
  description = "At least two AZs for the private subnets."
  type        = list(string)
  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "The private subnets span at least two availability zones."
  }
}

variable "kms_key_arn" {
  description = "The key that encrypts the flow logs."
  type        = string
}
