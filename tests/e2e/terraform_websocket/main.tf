# A WebSocket API as a Terraform stack, against Shoal: an echo function and its role, a
# WebSocket API routing $connect, $disconnect and $default (two-way, with its route response)
# to it, an auto-deployed stage.

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
  }
}

resource "aws_iam_role" "echo" {
  name = "tf-ws-echo-role"
  assume_role_policy = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Principal = { Service = "lambda.amazonaws.com" }, Action = "sts:AssumeRole" }]
  })
}

resource "aws_lambda_function" "echo" {
  function_name    = "tf-ws-echo"
  role             = aws_iam_role.echo.arn
  runtime          = var.runtime
  handler          = "echo.handler"
  filename         = var.package
  source_code_hash = filebase64sha256(var.package)
}

resource "aws_apigatewayv2_api" "ws" {
  name                       = "tf-ws"
  protocol_type              = "WEBSOCKET"
  route_selection_expression = "$request.body.action"
}

resource "aws_apigatewayv2_integration" "echo" {
  api_id           = aws_apigatewayv2_api.ws.id
  integration_type = "AWS_PROXY"
  integration_uri  = aws_lambda_function.echo.invoke_arn
}

resource "aws_apigatewayv2_route" "connect" {
  api_id    = aws_apigatewayv2_api.ws.id
  route_key = "$connect"
  target    = "integrations/${aws_apigatewayv2_integration.echo.id}"
}

resource "aws_apigatewayv2_route" "disconnect" {
  api_id    = aws_apigatewayv2_api.ws.id
  route_key = "$disconnect"
  target    = "integrations/${aws_apigatewayv2_integration.echo.id}"
}

resource "aws_apigatewayv2_route" "default" {
  api_id                              = aws_apigatewayv2_api.ws.id
  route_key                           = "$default"
  target                              = "integrations/${aws_apigatewayv2_integration.echo.id}"
  route_response_selection_expression = "$default"
}

resource "aws_apigatewayv2_route_response" "default" {
  api_id             = aws_apigatewayv2_api.ws.id
  route_id           = aws_apigatewayv2_route.default.id
  route_response_key = "$default"
}

resource "aws_apigatewayv2_stage" "prod" {
  api_id      = aws_apigatewayv2_api.ws.id
  name        = "prod"
  auto_deploy = true
}

output "url" {
  value = "${aws_apigatewayv2_api.ws.api_endpoint}/${aws_apigatewayv2_stage.prod.name}"
}
