# An HTTP API under a custom domain name with an access log, as a Terraform stack against
# Shoal: a function, its API and a stage writing access logs into a log group, the domain
# api.example.internal (its certificate the file the test put in <data dir>/certificates/,
# named by certificate_arn) and a mapping of the stage under the key "v1".

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

variable "credentials" {
  type = string
}

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
    apigatewayv2 = var.endpoint
    sts          = var.endpoint
    iam          = var.endpoint
    logs         = var.endpoint
  }
}

resource "aws_iam_role" "fn" {
  name = "tf-domain-fn"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_lambda_function" "fn" {
  function_name    = "tf-domain-fn"
  role             = aws_iam_role.fn.arn
  runtime          = var.runtime
  handler          = "app.handler"
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
}

resource "aws_apigatewayv2_api" "api" {
  name          = "tf-domain-api"
  protocol_type = "HTTP"
}

resource "aws_apigatewayv2_integration" "fn" {
  api_id                 = aws_apigatewayv2_api.api.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.fn.invoke_arn
  payload_format_version = "2.0"
}

resource "aws_apigatewayv2_route" "items" {
  api_id    = aws_apigatewayv2_api.api.id
  route_key = "GET /items/{id}"
  target    = "integrations/${aws_apigatewayv2_integration.fn.id}"
}

resource "aws_cloudwatch_log_group" "access" {
  name = "/tf/api-access"
}

resource "aws_apigatewayv2_stage" "prod" {
  api_id      = aws_apigatewayv2_api.api.id
  name        = "prod"
  auto_deploy = true

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format = jsonencode({
      requestId = "$context.requestId"
      routeKey  = "$context.routeKey"
      status    = "$context.status"
      domain    = "$context.domainName"
      basePath  = "$context.customDomain.basePathMatched"
    })
  }
}

resource "aws_apigatewayv2_domain_name" "api" {
  domain_name = "api.example.internal"

  domain_name_configuration {
    certificate_arn = "arn:aws:acm:us-east-1:123456789012:certificate/example-internal"
    endpoint_type   = "REGIONAL"
    security_policy = "TLS_1_2"
  }

  tags = {
    team = "web"
  }
}

resource "aws_apigatewayv2_api_mapping" "v1" {
  api_id          = aws_apigatewayv2_api.api.id
  domain_name     = aws_apigatewayv2_domain_name.api.id
  stage           = aws_apigatewayv2_stage.prod.id
  api_mapping_key = "v1"
}

output "api_id" {
  value = aws_apigatewayv2_api.api.id
}

output "target_domain_name" {
  value = aws_apigatewayv2_domain_name.api.domain_name_configuration[0].target_domain_name
}
