# A KMS key with an alias, and an EFS file system encrypted with it, against Shoal.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

variable "endpoint" {
  type = string
}

provider "aws" {
  region                      = "us-east-1"
  access_key                  = "shoal"
  secret_key                  = "shoal"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    kms = var.endpoint
    efs = var.endpoint
    sts = var.endpoint
  }
}

resource "aws_kms_key" "files" {
  description             = "the wall's files"
  deletion_window_in_days = 7
  tags = {
    app = "wall"
  }
}

resource "aws_kms_alias" "files" {
  name          = "alias/wall-files"
  target_key_id = aws_kms_key.files.key_id
}

resource "aws_efs_file_system" "wall" {
  creation_token = "tf-encrypted-wall"
  encrypted      = true
  kms_key_id     = aws_kms_key.files.arn
}

output "key_arn" {
  value = aws_kms_key.files.arn
}

output "fs_kms_key_id" {
  value = aws_efs_file_system.wall.kms_key_id
}
