# The seed's MessageWall as a Terraform stack, against Shoal: a file system with a mount target
# in the default VPC, an access point and a policy; the function in the VPC with the access
# point at /mnt/msg and a layer, an alias, a function URL and a permission; an HTTP API in front
# of it; a second function that imports its module from the layer.

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

variable "runtime" {
  type = string
}

variable "package" {
  type = string
}

variable "layer_package" {
  type = string
}

variable "probe_package" {
  type = string
}

# The server's root credentials file (<data-dir>/credentials, profile "shoal").
variable "credentials" {
  type = string
}

# How to point the AWS provider at Shoal: the root credentials the server made, every service at
# its one endpoint, and no calls to STS, IAM or the instance metadata service before the first
# request.
provider "aws" {
  region                      = "us-east-1"
  shared_credentials_files    = [var.credentials]
  profile                     = "shoal"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true

  endpoints {
    lambda       = var.endpoint
    efs          = var.endpoint
    ec2          = var.endpoint
    apigateway   = var.endpoint
    apigatewayv2 = var.endpoint
    sts          = var.endpoint
    iam          = var.endpoint
  }
}

data "aws_vpc" "default" {
  default = true
}

data "aws_subnets" "default" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.default.id]
  }
  filter {
    name   = "default-for-az"
    values = ["true"]
  }
}

data "aws_security_group" "default" {
  vpc_id = data.aws_vpc.default.id
  name   = "default"
}

# NFS from the function's interfaces to the mount target's, as the seed's set-up opens it.
resource "aws_security_group" "nfs" {
  name        = "tf-message-wall-nfs"
  description = "NFS between the MessageWall function and its file system"
  vpc_id      = data.aws_vpc.default.id

  ingress {
    from_port = 2049
    to_port   = 2049
    protocol  = "tcp"
    self      = true
  }

  egress {
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_efs_file_system" "wall" {
  creation_token = "tf-message-wall"
  tags = {
    Name = "MessageWall"
  }
}

resource "aws_efs_mount_target" "wall" {
  file_system_id  = aws_efs_file_system.wall.id
  subnet_id       = sort(data.aws_subnets.default.ids)[0]
  security_groups = [data.aws_security_group.default.id, aws_security_group.nfs.id]
}

resource "aws_efs_access_point" "wall" {
  file_system_id = aws_efs_file_system.wall.id
  posix_user {
    uid = 1001
    gid = 1001
  }
  root_directory {
    path = "/message"
    creation_info {
      owner_uid   = 1001
      owner_gid   = 1001
      permissions = "750"
    }
  }
}

resource "aws_efs_file_system_policy" "wall" {
  file_system_id = aws_efs_file_system.wall.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { AWS = "*" }
      Action    = ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
      Resource  = aws_efs_file_system.wall.arn
    }]
  })
}

# The functions' execution role: Lambda must be allowed to assume it.
resource "aws_iam_role" "wall" {
  name = "tf-message-wall"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_lambda_function" "wall" {
  function_name    = "tf-message-wall"
  role             = aws_iam_role.wall.arn
  runtime          = var.runtime
  handler          = "lambda_function.lambda_handler"
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)

  file_system_config {
    arn              = aws_efs_access_point.wall.arn
    local_mount_path = "/mnt/msg"
  }

  vpc_config {
    subnet_ids         = sort(data.aws_subnets.default.ids)
    security_group_ids = [aws_security_group.nfs.id]
  }

  # The wall imports nothing from it; it shows one function with all three blocks.
  layers = [aws_lambda_layer_version.greeting.arn]

  depends_on = [aws_efs_mount_target.wall, aws_efs_file_system_policy.wall]
}

resource "aws_lambda_alias" "live" {
  name             = "live"
  function_name    = aws_lambda_function.wall.function_name
  function_version = "$LATEST"
}

resource "aws_lambda_function_url" "wall" {
  function_name      = aws_lambda_function.wall.function_name
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_api" "wall" {
  name          = "tf-message-wall"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "wall" {
  api_id                 = aws_apigatewayv2_api.wall.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.wall.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "wall" {
  api_id    = aws_apigatewayv2_api.wall.id
  route_key = "ANY /MessageWall"
  target    = "integrations/${aws_apigatewayv2_integration.wall.id}"
}

resource "aws_apigatewayv2_stage" "wall" {
  api_id      = aws_apigatewayv2_api.wall.id
  name        = "default"
  auto_deploy = true
}

resource "aws_lambda_permission" "api" {
  statement_id  = "AllowHttpApi"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.wall.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.wall.execution_arn}/*/*"
}

# A layer, and a function that imports its module from /opt/python.
resource "aws_lambda_layer_version" "greeting" {
  layer_name          = "tf-greeting"
  filename            = var.layer_package
  source_code_hash    = filebase64sha256(var.layer_package)
  compatible_runtimes = [var.runtime]
}

resource "aws_lambda_function" "probe" {
  function_name    = "tf-layer-probe"
  role             = aws_iam_role.wall.arn
  runtime          = var.runtime
  handler          = "probe.handler"
  filename         = var.probe_package
  source_code_hash = filebase64sha256(var.probe_package)
  layers           = [aws_lambda_layer_version.greeting.arn]
}

output "layer_arn" {
  value = aws_lambda_layer_version.greeting.arn
}

output "function_url" {
  value = aws_lambda_function_url.wall.function_url
}

output "api_url" {
  value = "${aws_apigatewayv2_api.wall.api_endpoint}/${aws_apigatewayv2_stage.wall.name}/MessageWall"
}
